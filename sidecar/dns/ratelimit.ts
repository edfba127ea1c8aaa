/**
 * Token bucket per client IP: `rate` queries per second sustained, `burst`
 * at once. The table is bounded: past `maxClients` the least recently seen
 * client is forgotten (it starts again with a full bucket), so a spoofed
 * flood of source addresses costs memory `maxClients`, not one per address.
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `ip`; false means the query is over the limit. */
  take(ip: string): boolean {
    if (this.rate <= 0) return true;
    const t = this.now();
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      b = { tokens: this.burst, at: t };
    } else {
      this.buckets.delete(ip);
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    }
    // Re-insert so Map order is least-recently-seen first.
    this.buckets.set(ip, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get clients(): number {
    return this.buckets.size;
  }
}
