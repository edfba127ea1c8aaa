/** Upper bounds (ms) of the change-to-apply latency histogram buckets; the last bucket is +Inf. */
export const APPLY_LATENCY_BUCKETS_MS = [10, 25, 50, 100, 200, 500, 1000, 2500, 5000, 10000] as const;

export interface HaproxyMetricsSnapshot {
  backends: number;
  servers: { ready: number; drain: number; maint: number; free: number };
  runtimeApiApplies: number;
  reloads: number;
  reloadFailures: number;
  renderFailures: number;
  validateFailures: number;
  runtimeApiFailures: number;
  restarts: number;
  labelProblems: number;
  instanceProblems: number;
  serviceProblems: number;
  drainsCompleted: number;
  drainsTimedOut: number;
  applyLatencyMs: { buckets: { le: number; count: number }[]; count: number; sum: number };
}

/**
 * Counters of the HAProxy sidecar, plain numbers so the metrics sidecar can
 * export them later (prom-client collectors read `snapshot()`). Bucket counts
 * are cumulative, as Prometheus histograms are.
 */
export class HaproxyMetrics {
  backends = 0;
  servers = { ready: 0, drain: 0, maint: 0, free: 0 };
  runtimeApiApplies = 0;
  reloads = 0;
  reloadFailures = 0;
  renderFailures = 0;
  validateFailures = 0;
  runtimeApiFailures = 0;
  restarts = 0;
  /** Instances left out now for a bad `berth.lb.*` label. */
  labelProblems = 0;
  /** Instances left out now for a catalog address or port that is not an IP/DNS name and a port. */
  instanceProblems = 0;
  /** Services left out now: bind address or port not allowed, port taken, or refused by HAProxy. */
  serviceProblems = 0;
  drainsCompleted = 0;
  drainsTimedOut = 0;
  private readonly bucketCounts = APPLY_LATENCY_BUCKETS_MS.map(() => 0);
  private latencyCount = 0;
  private latencySum = 0;

  observeApplyLatency(ms: number): void {
    this.latencyCount++;
    this.latencySum += ms;
    APPLY_LATENCY_BUCKETS_MS.forEach((le, i) => {
      if (ms <= le) this.bucketCounts[i] = (this.bucketCounts[i] ?? 0) + 1;
    });
  }

  snapshot(): HaproxyMetricsSnapshot {
    return {
      backends: this.backends,
      servers: { ...this.servers },
      runtimeApiApplies: this.runtimeApiApplies,
      reloads: this.reloads,
      reloadFailures: this.reloadFailures,
      renderFailures: this.renderFailures,
      validateFailures: this.validateFailures,
      runtimeApiFailures: this.runtimeApiFailures,
      restarts: this.restarts,
      labelProblems: this.labelProblems,
      instanceProblems: this.instanceProblems,
      serviceProblems: this.serviceProblems,
      drainsCompleted: this.drainsCompleted,
      drainsTimedOut: this.drainsTimedOut,
      applyLatencyMs: {
        buckets: [
          ...APPLY_LATENCY_BUCKETS_MS.map((le, i) => ({ le, count: this.bucketCounts[i] ?? 0 })),
          { le: Number.POSITIVE_INFINITY, count: this.latencyCount },
        ],
        count: this.latencyCount,
        sum: this.latencySum,
      },
    };
  }
}
