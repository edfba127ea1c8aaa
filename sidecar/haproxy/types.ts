/**
 * What the HAProxy manager (manager.ts) is given and gives back. The two
 * parts it drives are interfaces so a test or an embedder can inject its own:
 * the process (`HaproxyProcess`, by default supervisor.ts) and the Runtime API
 * (`RuntimeCommands`, by default runtime-api.ts).
 */
import type { Logger } from '../../runtime/base/log.js';
import type { Catalog } from '../discovery/types.js';
import type { HaproxyOptions } from './config.js';
import type { HaproxyMetrics } from './metrics.js';
import type { ConfigRenderer } from './template.js';

/** The HAProxy process: started or adopted (managed mode), or one someone else runs (external). */
export interface HaproxyProcess {
  /** PID of the master berth runs (managed mode). */
  readonly pid: number | undefined;
  /** Writes what must exist before the first config check (berth's global file, managed mode). */
  prepare(): Promise<void>;
  /** Files `haproxy -c` must load before the config (the global file). */
  preludeFiles(): string[];
  /** Starts HAProxy on the installed config, or adopts the one a previous agent left running. */
  start(): Promise<void>;
  /** A seamless reload onto the installed config; throws with HAProxy's output when it fails. */
  reload(): Promise<void>;
  /** Leaves a managed HAProxy running (the next agent adopts it). */
  detach(): void;
  /** Stops a managed HAProxy. */
  stop(): Promise<void>;
}

/** What the process calls back with (restarts it counted and performed). */
export interface HaproxyProcessHooks {
  logger: Logger;
  /** HAProxy (re)started on its own and serves the live file: the manager resyncs its view of the slots. */
  onRestarted(): void;
  onRestartCounted(): void;
}

/** The admin Runtime API: server-set changes without a reload. */
export interface RuntimeCommands {
  /** Several state-changing commands in order; throws with the first complaint. */
  apply(cmds: readonly string[]): Promise<void>;
  /** Current sessions by `backend/server`. */
  sessions(): Promise<Map<string, number>>;
}

export interface HaproxyManagerDeps {
  catalog: Catalog;
  options: HaproxyOptions;
  logger?: Logger;
  metrics?: HaproxyMetrics;
  /** Overrides `options.templatePath` and the default generator (tests, embedders). */
  renderer?: ConfigRenderer;
  now?: () => number;
  /** The process to drive; default a HaproxySupervisor over `options`. */
  process?: (hooks: HaproxyProcessHooks) => HaproxyProcess;
  /** The Runtime API; default RuntimeApi over `options.statsSocket` / `masterSocket`. */
  runtime?: RuntimeCommands;
}

export interface PreStopResult {
  /** Servers (slots) of the container that were put in drain. */
  servers: string[];
  /** True when their sessions reached 0 within the bound. */
  drained: boolean;
  /** Sessions still open when the wait ended. */
  sessions: number;
}

/** The last apply that failed, for status output and tests. */
export interface ApplyFailure {
  stage: 'render' | 'validate' | 'reload' | 'runtime-api';
  message: string;
  at: number;
}
