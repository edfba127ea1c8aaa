import { InvalidArgumentError } from '../base/errors.js';
import type { HealthStatus } from '../types.js';

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

/**
 * One container's health loop. Lifecycle: `start()` when the container starts,
 * `stop()` when it stops; `onChange` fires on each status transition
 * (starting → healthy/unhealthy, healthy ↔ unhealthy). Failures during the
 * start period do not count towards `retries` (as in Docker), but a success
 * ends the start period.
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private ac: AbortController | undefined;
  private readonly startedAt: number;
  private inStartPeriod = true;
  readonly state: HealthState = { status: 'starting', failingStreak: 0, log: [] };

  constructor(
    private readonly cfg: HealthCheckConfig,
    private readonly run: ProbeRunner,
    private readonly onChange: (status: HealthStatus, state: HealthState) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  start(): void {
    this.schedule(Math.min(this.cfg.intervalMs, 1000));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ac?.abort();
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  /** Runs one probe now; exported for tests and `berth inspect` refreshes. */
  async tick(): Promise<void> {
    this.timer = undefined;
    const ac = new AbortController();
    this.ac = ac;
    const start = new Date(this.now()).toISOString();
    const timeout = setTimeout(() => ac.abort(), this.cfg.timeoutMs);
    let result: ProbeResult;
    try {
      result = await this.run(this.cfg.probe, ac.signal);
      if (ac.signal.aborted && result.ok) result = { ok: false, output: 'health check timed out' };
    } catch (err) {
      result = {
        ok: false,
        output: ac.signal.aborted ? `health check timed out after ${this.cfg.timeoutMs}ms` : String(err),
      };
    } finally {
      clearTimeout(timeout);
    }
    if (this.ac !== ac) return; // stopped meanwhile
    this.record(start, result);
    this.schedule(this.cfg.intervalMs);
  }

  private record(start: string, r: ProbeResult): void {
    this.state.log.push({
      start,
      end: new Date(this.now()).toISOString(),
      ok: r.ok,
      output: r.output.slice(0, HEALTH_OUTPUT_MAX),
    });
    if (this.state.log.length > 5) this.state.log.shift();
    const prev = this.state.status;
    if (r.ok) {
      this.inStartPeriod = false;
      this.state.failingStreak = 0;
      this.state.status = 'healthy';
    } else {
      if (this.inStartPeriod && this.now() - this.startedAt < this.cfg.startPeriodMs) {
        // Failures in the start period are not counted.
      } else {
        this.inStartPeriod = false;
        this.state.failingStreak++;
        if (this.state.failingStreak >= this.cfg.retries) this.state.status = 'unhealthy';
      }
    }
    if (this.state.status !== prev) this.onChange(this.state.status, this.state);
  }
}

/**
 * Parse a health check from Docker-style input: `test` as
 * `["CMD", ...]`, `["CMD-SHELL", "cmd"]`, `["NONE"]`, or berth's
 * `{http: url}` / `{tcp: port}`.
 */
export function parseHealthProbe(test: unknown, field = 'healthcheck.test'): HealthProbe | undefined {
  if (Array.isArray(test) && test.every((t) => typeof t === 'string')) {
    const [kind, ...rest] = test as string[];
    if (kind === 'NONE') return undefined;
    if (kind === 'CMD' && rest.length > 0) return { kind: 'cmd', argv: rest };
    if (kind === 'CMD-SHELL' && rest.length === 1)
      return { kind: 'cmd', argv: ['/bin/sh', '-c', rest[0] as string] };
  }
  if (test && typeof test === 'object' && !Array.isArray(test)) {
    const t = test as Record<string, unknown>;
    if (typeof t.http === 'string' && /^https?:\/\//.test(t.http)) return { kind: 'http', url: t.http };
    if (typeof t.tcp === 'number' && Number.isInteger(t.tcp) && t.tcp > 0 && t.tcp < 65536) {
      return { kind: 'tcp', port: t.tcp };
    }
  }
  throw new InvalidArgumentError(
    `${field}: must be ["CMD", arg...], ["CMD-SHELL", "command"], ["NONE"], {"http": "http://..."} or {"tcp": port}, got ${JSON.stringify(test)}`,
    { field },
  );
}
