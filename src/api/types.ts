import type { Runtime } from '../../runtime/runtime.js';
import type { RuntimeEvent } from '../../runtime/types.js';
import type { ContainerStats } from '../../sidecar/metrics/stats.js';
import type { EventExchange } from '../common/events.js';

/** What the API needs from the agent; injected by the composition root. */
export interface ApiDeps {
  runtime: Runtime;
  events: EventExchange<RuntimeEvent>;
  /** `GET /v1/stats`; without it the route answers NotImplemented. */
  stats?: { read(names: string[]): Promise<ContainerStats[]> };
}
