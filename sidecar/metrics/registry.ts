import {
  collectDefaultMetrics,
  type Metric,
  type OpenMetricsContentType,
  type PrometheusContentType,
  Registry,
} from 'prom-client';
import type { Sample, Snapshot } from './collector.js';
import { FAMILIES, type FamilyDef, INFO_FAMILY, SELF_FAMILIES } from './families.js';

/**
 * A metric family whose values are the current snapshot's samples.
 * prom-client's own metric classes store series in a label-hash map that would
 * have to be reset and refilled on every scrape (a hash per series, a few
 * thousand series for 100 containers); this view hands the registry the
 * snapshot's arrays as they are. prom-client still does what it does well:
 * both exposition formats, escaping, and the default process metrics.
 * The registry reads `name`, `help`, `type`, `get()` and calls `reset()`.
 */
class SnapshotFamily {
  /** Mutable: prom-client strips `_total` from counters' names when it serialises OpenMetrics. */
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'unknown';
  readonly aggregator = 'sum' as const;

  constructor(
    private readonly def: FamilyDef,
    private readonly snapshot: () => Snapshot,
    format: ExpositionFormat,
  ) {
    this.name = def.name;
    this.help = def.help;
    // OpenMetrics requires counter samples to end in _total, so prom-client would
    // rename container_memory_failcnt to container_memory_failcnt_total and break
    // cAdvisor dashboards whenever Prometheus negotiates OpenMetrics (its default).
    // `unknown` keeps the sample name identical in both formats.
    this.type =
      format === 'openmetrics' && def.type === 'counter' && !def.name.endsWith('_total')
        ? 'unknown'
        : def.type;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: readonly Sample[];
  }> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.snapshot().get(this.def.name) ?? [],
    };
  }

  reset(): void {}
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export type AnyRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/**
 * One registry per exposition format. Because prom-client renames counters in
 * place when it serialises OpenMetrics, a metric object must never be shared
 * between the two; each registry gets its own views and default metrics.
 */
export function createRegistry(format: ExpositionFormat, snapshot: () => Snapshot): AnyRegistry {
  let registry: AnyRegistry;
  if (format === 'openmetrics') {
    const om = new Registry<OpenMetricsContentType>();
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registry = om;
  } else {
    registry = new Registry<PrometheusContentType>();
  }
  for (const def of [...FAMILIES, INFO_FAMILY, ...SELF_FAMILIES]) {
    // The one cast: SnapshotFamily implements the part of Metric the registry uses.
    registry.registerMetric(new SnapshotFamily(def, snapshot, format) as unknown as Metric);
  }
  collectDefaultMetrics({ register: registry, prefix: 'berth_' });
  return registry;
}
