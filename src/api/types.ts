import type { EventExchange } from '../../runtime/base/events.js';
import type { NetworkVerbs } from '../../runtime/network/types.js';
import type { LogLine, LogQuery, Runtime } from '../../runtime/runtime.js';
import type { ContainerSource, RuntimeEvent } from '../../runtime/types.js';
import type { StatsReply } from '../../sidecar/metrics/stats.js';
import type { Projects } from '../deploy/projects.js';
import type { DashboardStatus } from './dashboard-status.js';

/** What the API needs from the agent; injected by the composition root. */
export interface ApiDeps {
  runtime: Runtime;
  events: EventExchange<RuntimeEvent>;
  /**
   * The observed containers (`--mode observe|both`, runtime/source/observe): listed beside berth's
   * by `GET /v1/containers`, read-only (a verb on one is FailedPrecondition), and their `logs`
   * (resolved before streaming; FailedPrecondition when one has no file berth reads). Absent in run mode.
   */
  observed?: ContainerSource & {
    logs?(idOrName: string, query: LogQuery): Promise<AsyncIterable<LogLine>>;
  };
  /** `GET /v1/stats`; without it the route answers NotImplemented. */
  stats?: { read(names: string[]): Promise<StatsReply> };
  /** `/v1/networks` (runtime/network); without it those routes answer NotImplemented. */
  networks?: NetworkVerbs;
  /** `/v1/projects` (src/deploy); without it those routes answer NotImplemented. */
  projects?: Projects;
  /** `POST /v1/dashboard/login` (`berth dashboard-url`): a fresh one-time login URL; absent when the dashboard is off. */
  dashboardLogin?: () => { url: string; expiresAt: string };
  /** `GET /v1/dashboard/status` (src/agent/dashboard-status.ts); without it the route answers NotImplemented. */
  dashboardStatus?: () => Promise<DashboardStatus>;
}

/**
 * The exec WebSocket's channels: the first byte of every binary frame says
 * which stream the rest belongs to (Kubernetes' exec numbering). Shared by
 * the route (src/api/routes/exec.ts) and `berth exec`.
 */
export const EXEC_STDIN = 0;
export const EXEC_STDOUT = 1;
export const EXEC_STDERR = 2;
