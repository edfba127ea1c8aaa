import type { MetricFamily } from '../types.js';
import type { LbState } from './slots.js';

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

  /** Backends and server slots by state, from the slot state berth believes HAProxy holds. */
  observeSlots(state: LbState): void {
    const servers = { ready: 0, drain: 0, maint: 0, free: 0 };
    for (const be of state.values()) {
      for (const s of be.slots) {
        if (s.instanceId === undefined) servers.free++;
        else servers[s.state]++;
      }
    }
    this.backends = state.size;
    this.servers = servers;
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

/**
 * The HAProxy sidecar's counters as `berth_haproxy_*` families (see the
 * contract in dashboards/README.md), delivered as the sidecar's
 * `metrics.haproxy` (see sidecar.ts).
 */
export function haproxyFamilies(m: HaproxyMetricsSnapshot): MetricFamily[] {
  const one = (value: number) => [{ labels: {}, value }];
  return [
    {
      name: 'berth_haproxy_backends',
      type: 'gauge',
      help: 'Backends in the live config.',
      samples: one(m.backends),
    },
    {
      name: 'berth_haproxy_servers',
      type: 'gauge',
      help: 'Server slots by state (ready, drain, maint, free).',
      samples: Object.entries(m.servers)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([state, value]) => ({ labels: { state }, value })),
    },
    {
      name: 'berth_haproxy_runtime_updates_total',
      type: 'counter',
      help: 'Server-set changes applied through the Runtime API (no reload).',
      samples: one(m.runtimeApiApplies),
    },
    {
      name: 'berth_haproxy_reloads_total',
      type: 'counter',
      help: 'Seamless reloads for structural changes, by result (invalid: the render failed haproxy -c).',
      samples: [
        { labels: { result: 'failed' }, value: m.reloadFailures },
        { labels: { result: 'invalid' }, value: m.validateFailures },
        { labels: { result: 'ok' }, value: m.reloads },
      ],
    },
    {
      name: 'berth_haproxy_render_failures_total',
      type: 'counter',
      help: 'Renders that failed (template errors); the live config was kept.',
      samples: one(m.renderFailures),
    },
    {
      name: 'berth_haproxy_left_out',
      type: 'gauge',
      help: 'What the last apply left out, by reason: label (a bad berth.lb.* value), instance (a catalog address or port), service (a frontend not allowed, port taken or refused by HAProxy).',
      samples: [
        { labels: { reason: 'instance' }, value: m.instanceProblems },
        { labels: { reason: 'label' }, value: m.labelProblems },
        { labels: { reason: 'service' }, value: m.serviceProblems },
      ],
    },
    {
      name: 'berth_haproxy_restarts_total',
      type: 'counter',
      help: 'Times berth restarted an HAProxy that had died.',
      samples: one(m.restarts),
    },
    {
      name: 'berth_haproxy_apply_seconds_total',
      type: 'counter',
      help: 'Summed time from a catalog change to HAProxy routing accordingly (divide by berth_haproxy_applies_total).',
      samples: one(m.applyLatencyMs.sum / 1000),
    },
    {
      name: 'berth_haproxy_applies_total',
      type: 'counter',
      help: 'Catalog changes applied to HAProxy.',
      samples: one(m.applyLatencyMs.count),
    },
  ];
}
