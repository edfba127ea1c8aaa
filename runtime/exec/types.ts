import type { ExecIO, LogLine, LogQuery } from '../runtime.js';
import type { LogControl } from './log-control.js';

/**
 * The exec area's contracts with the container manager. Lifecycle of one
 * container through an `ExecutorPort` (executor.ts: conmon + runc/crun):
 * `create` (the monitor starts and the OCI runtime creates the container; its
 * init waits), `start`, any number of `kill`/`exec`, `wait` resolving at its
 * exit, then `delete`. After an agent restart `adopt` tells what became of a
 * container meanwhile. Containers outlive the agent: nothing here ends with
 * the agent's process.
 */
export interface ExecutorPort {
  /** Creates the container (monitor + OCI create); output goes to `logPath`. Returns the init pid. */
  create(id: string, bundleDir: string, opts: { logPath: string }): Promise<{ pid: number }>;
  /** Lets a created container's init run. */
  start(id: string): Promise<void>;
  /** Sends a signal (name like SIGTERM or a number) to the container's init. */
  kill(id: string, signal: string): Promise<void>;
  /** Resolves when the container exits (also when it had already exited). */
  wait(id: string): Promise<ExitInfo>;
  /** Removes the OCI runtime's and the monitor's state; idempotent. */
  delete(id: string): Promise<void>;
  /** `io` relays the command's streams as they come (its signal kills it); `signal` alone bounds a probe. */
  exec(
    id: string,
    req: { cmd: string[]; env?: string[]; user?: string; workdir?: string; outputLimit?: number },
    signal?: AbortSignal,
    io?: ExecIO,
  ): Promise<{
    exitCode: number;
    stdout: string;
    stderr: string;
  }>;
  /**
   * Live restore: what on-disk state says about a container after an agent
   * restart. `created`: the OCI runtime created it and nobody started it (its
   * init waits); the caller deletes or starts it.
   */
  adopt(id: string): Promise<AdoptResult>;
  /** The monitor's log control (log-control.ts), undefined when the monitor is gone; for log rotation. */
  openLogControl?(id: string): Promise<LogControl | undefined>;
}

/** How a container's init ended, as the monitor recorded it. */
export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  /** The signal that killed it, when one did. */
  signal?: string;
  finishedAt: string;
}

/**
 * Reads a container's log file (the k8s-format file the monitor writes;
 * logfile.ts). Stateless: each `read` opens the file and, with `follow`,
 * follows it until `query.signal` aborts.
 */
export interface LogPort {
  /** The lines `query` selects (since, until, tail), then with `follow` new ones as they come. */
  read(logPath: string, query: LogQuery): AsyncIterable<LogLine>;
}

/** What `adopt` found of a container after an agent restart (see ExecutorPort.adopt). */
export type AdoptResult =
  | { status: 'running'; pid: number }
  | { status: 'created'; pid: number }
  | { status: 'exited'; exit: ExitInfo }
  | { status: 'missing' };
