import type { HaproxyMetrics } from '../../haproxy/metrics.js';
import type { ExternalFamily } from '../external.js';

type HaproxySnapshot = ReturnType<HaproxyMetrics['snapshot']>;

/**
 * The HAProxy sidecar's counters as `berth_haproxy_*` families (see the
 * contract in dashboards/README.md). Wiring:
 * `collector.registerExternal('haproxy', () => haproxyFamilies(lb.metrics.snapshot()))`.
 */
export function haproxyFamilies(m: HaproxySnapshot): ExternalFamily[] {
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

/** The registrar's counters as `berth_discovery_registrar_*` families. */
export function registrarFamilies(c: Record<string, number>): ExternalFamily[] {
  const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  return Object.keys(c)
    .sort()
    .map((k) => ({
      name: `berth_discovery_registrar_${snake(k)}_total`,
      type: 'counter' as const,
      help: `Registrar counter ${k}.`,
      samples: [{ labels: {}, value: c[k] ?? 0 }],
    }));
}
