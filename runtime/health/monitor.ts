import type { HealthStatus } from '../types.js';
import {
  HEALTH_OUTPUT_MAX,
  type HealthCheckConfig,
  type HealthState,
  type ProbeResult,
  type ProbeRunner,
} from './types.js';

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
