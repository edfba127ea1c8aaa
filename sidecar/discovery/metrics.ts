import type { MetricFamily } from '../types.js';
import type { CatalogView } from './types.js';

const HEALTH = ['passing', 'warning', 'critical', 'maintenance'] as const;

/**
 * The catalog view as `berth_discovery_*` families (the contract of the
 * discovery dashboard; see dashboards/README.md): instances per service and
 * health, every health state present (0 when none) so "no critical instance"
 * is a 0, not a missing series. Reads the local view only, never Consul.
 * Delivered as the catalog sidecar's `metrics.discovery` (see sidecar.ts).
 */
export function catalogFamilies(view: CatalogView): MetricFamily[] {
  const counts = new Map<string, Record<string, number>>();
  for (const i of view.instances) {
    let c = counts.get(i.service);
    if (!c) {
      c = Object.fromEntries(HEALTH.map((h) => [h, 0]));
      counts.set(i.service, c);
    }
    c[i.health] = (c[i.health] ?? 0) + 1;
  }
  const samples = [...counts.keys()]
    .sort()
    .flatMap((service) =>
      HEALTH.map((health) => ({ labels: { service, health }, value: counts.get(service)?.[health] ?? 0 })),
    );
  return [
    {
      name: 'berth_discovery_instances',
      type: 'gauge',
      help: 'Service instances in the catalog view, by service and health.',
      samples,
    },
    {
      name: 'berth_discovery_view_stale',
      type: 'gauge',
      help: '1 when the catalog view could not be refreshed from its source (Consul unreachable).',
      samples: [{ labels: {}, value: view.stale ? 1 : 0 }],
    },
    {
      name: 'berth_discovery_view_index',
      type: 'gauge',
      help: 'Version of the catalog view; it changes on every catalog change.',
      samples: [{ labels: {}, value: view.index }],
    },
  ];
}

/** The registrar's counters as `berth_discovery_registrar_*` families. */
export function registrarFamilies(c: Record<string, number>): MetricFamily[] {
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
