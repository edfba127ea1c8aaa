import type { HealthStatus } from '../types.js';

/**
 * The health area's contract. A container's `HealthCheckConfig` is decided
 * once at create (runtime/oci validates it, `parseHealthProbe` reads Docker's
 * notation); the container manager starts one `HealthMonitor` (monitor.ts)
 * per running container with a check and stops it at exit. The monitor calls a
 * `ProbeRunner` for each probe: cmd probes run through the executor, http and
 * tcp probes through a `NetworkProber` (probe.ts: from the host against the
 * container's address).
 */

/**
 * Health checks as Docker runs them (interval, timeout, retries, start
 * period), with three probe kinds: a command run inside the container, an
 * HTTP GET (2xx/3xx is healthy), and a TCP connect.
 */
export type HealthProbe =
  | { kind: 'cmd'; argv: string[] }
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; port: number; host?: string };

export interface HealthCheckConfig {
  probe: HealthProbe;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };

/**
 * Bytes of a probe's output the health log keeps per entry (Docker keeps the
 * same 4096). An http probe reads no more of the body than this.
 */
export const HEALTH_OUTPUT_MAX = 4096;

export interface ProbeResult {
  ok: boolean;
  output: string;
}

/** Runs one probe against one container; implemented by the manager (exec, fetch, net.connect). */
export type ProbeRunner = (probe: HealthProbe, signal: AbortSignal) => Promise<ProbeResult>;

export interface HealthLogEntry {
  start: string;
  end: string;
  ok: boolean;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  log: HealthLogEntry[];
}

/** Runs an http or tcp probe from the host against a container address; resolves, never rejects on a failed probe. */
export type NetworkProber = (
  probe: { kind: 'http' | 'tcp'; url?: string; port?: number; host: string },
  signal: AbortSignal,
) => Promise<ProbeResult>;
