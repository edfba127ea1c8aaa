/**
 * The API shapes the dashboard reads, taken from the API's own TypeBox schemas
 * (src/api/schemas.ts) and the deploy layer's status types, so a change there is
 * a type error here. Type-only: esbuild erases these imports, nothing of src/
 * reaches the bundle.
 */
import type { Static } from '@sinclair/typebox';
import type * as Api from '../../src/api/schemas.js';
import type * as Deploy from '../../src/deploy/types.js';

export type PortMapping = Static<typeof Api.PortMapping>;
export type Container = Static<typeof Api.ContainerDescriptor>;
/** Where a container comes from: berth's own, or observed beside Docker or a kubelet (`--mode observe|both`). */
export type SourceName = Static<typeof Api.ContainerSourceName>;
/** GET /v1/info: the endpoints and the agent's `mode` (run, observe, both). */
export type AgentInfo = Static<typeof Api.Info>;

/** GET /v1/containers/:id adds the validated config: limits live there. */
export type ContainerDetail = Container & { config?: Record<string, unknown>; [key: string]: unknown };

export type StatsMessage = Static<typeof Api.StatsMessage>;
export type StatsEntry = StatsMessage['containers'][number];

/** The envelope of /v1/ws/events; the event's fields depend on the topic. */
export type EventEnvelope = Omit<Static<typeof Api.EventEnvelope>, 'event'> & {
  event: { container?: Container; exitCode?: number; ref?: string; id?: string; [k: string]: unknown };
};

export type ProjectStatus = Deploy.ProjectStatus;
export type ServiceStatus = Deploy.ServiceStatus;
export type RolloutProgress = NonNullable<ServiceStatus['rollout']>;

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';
