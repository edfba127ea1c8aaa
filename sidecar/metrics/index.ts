import type { Logger } from '../../runtime/base/log.js';
import type { ContainerSource } from '../../runtime/types.js';
import type { MetricsProvider, Sidecar } from '../types.js';
import { MetricsCollector } from './collector.js';
import { type MetricsConfig, parseListen, parseRoots } from './config.js';
import { MetricsServer } from './server.js';

export { MetricsCollector, type MetricsCollectorOptions, type Snapshot } from './collector.js';
export { METRICS_CONFIG, type MetricsConfig, parseListen, parseRoots } from './config.js';
export { createCgroupReader, HOST_ROOTS } from './reader.js';
export { MetricsServer, negotiate } from './server.js';
export type { CgroupReader, Roots } from './types.js';

/**
 * The metrics sidecar from validated `METRICS_CONFIG` values, for the
 * composition root. `providers` are the other sidecars' own families
 * (`Sidecar.metrics`), read when it starts: the agent starts it last, after
 * every sidecar whose families it serves. Optional: the agent runs on without
 * /metrics when it cannot listen.
 */
export function createMetricsSidecar(
  cfg: MetricsConfig,
  source: ContainerSource,
  logger: Logger,
  providers: Iterable<readonly [string, MetricsProvider]> = [],
): Sidecar & { collector: MetricsCollector; server: MetricsServer } {
  const log = logger.child({ component: 'metrics' });
  const listen = parseListen(cfg.listen);
  const collector = new MetricsCollector({
    source,
    logger: log,
    roots: parseRoots(cfg.roots),
    labelsAllowlist: cfg.labelsAllowlist,
    labelsOnAllSeries: cfg.labelsOnAllSeries,
    collectors: cfg.collectors,
  });
  const server = new MetricsServer({
    collector,
    logger: log,
    host: listen.host,
    port: listen.port,
    gzip: cfg.gzip,
  });
  let url = '';
  return {
    name: 'metrics',
    collector,
    server,
    async start() {
      for (const [name, provide] of providers) collector.registerExternal(name, provide);
      const a = await server.start();
      url = `http://${a.host}:${a.port}/metrics`;
    },
    close: () => server.stop(),
    endpoint: () => url,
    optional: { status: 'not serving', warning: 'metrics: cannot listen; the agent runs without /metrics' },
  };
}
