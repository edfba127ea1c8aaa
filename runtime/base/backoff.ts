/**
 * Exponential backoff with jitter: the one formula behind every retry in
 * berth (container restarts, Consul calls, log receivers and batches, the
 * HAProxy supervisor, the discovery reconcile, the container informer).
 *
 *   nominal(n) = min(maxMs, initialMs × factor^n)       n = attempts since the last reset
 *   delay(n)   = nominal(n) × (1 − jitter × random())   uniform in [nominal × (1 − jitter), nominal]
 *
 * `jitter` 0 is none (a fixed doubling), 0.5 is "equal jitter" (the default),
 * 1 is "full jitter" (AWS's names, "Exponential Backoff And Jitter", 2015).
 *
 * Why jitter subtracts: the nominal delay is a ceiling, so `maxMs` really is
 * the longest wait (a log receiver or Consul that is back is tried within
 * `maxMs`, the restart delays documented in runtime/README.md stay upper
 * bounds). Why equal jitter by default: full jitter spreads a fleet best but
 * may retry at once after a failure (a crash-looping container restarted in
 * 0 ms, a Consul hit by instant reconnects); half the nominal delay as a
 * floor keeps a pause while the other half still spreads many agents or
 * containers failing together. A caller with a documented spread (restarts:
 * 20 %) or none (a supervisor whose tests count restarts) passes its own.
 */
export interface BackoffOptions {
  /** The first delay (attempt 0). */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** Growth per attempt; 2 by default. */
  factor?: number;
  /** 0..1, the share of the nominal delay that is random; 0.5 (equal jitter) by default. */
  jitter?: number;
}

/**
 * The delay before attempt `attempt` (0-based since the last success), in
 * whole milliseconds. Pure: a caller that keeps the attempt count itself (a
 * container's persisted restart count) uses this; others keep a `Backoff`.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const factor = opts.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  // Past ~1000 attempts factor^n is Infinity; capping the exponent keeps 0 × Infinity (NaN) out.
  const grown = opts.initialMs <= 0 ? 0 : opts.initialMs * factor ** Math.min(Math.max(0, attempt), 1000);
  const nominal = Math.min(opts.maxMs, grown);
  return Math.round(nominal * (1 - jitter * random()));
}

/**
 * A retry loop's backoff: `next()` before each retry, `reset()` after a
 * success. The state is one counter, so a Backoff per server or per loop
 * costs nothing.
 */
export class Backoff {
  private n = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call makes the following one longer (up to `maxMs`). */
  next(): number {
    return backoffDelay(this.n++, this.opts, this.random);
  }

  /** Back to `initialMs`: the last attempt succeeded. */
  reset(): void {
    this.n = 0;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.n;
  }
}
