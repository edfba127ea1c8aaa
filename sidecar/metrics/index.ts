import type { ConfigValues } from '../../runtime/base/config.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ContainerSource } from '../../runtime/types.js';
import { MetricsCollector } from './collector.js';
import { parseListen, parseRoots } from './config.js';
import { MetricsServer } from './server.js';

export { MetricsCollector, type MetricsCollectorOptions, type Snapshot } from './collector.js';
export { METRICS_CONFIG, parseListen, parseRoots } from './config.js';
export { createCgroupReader, HOST_ROOTS } from './reader.js';
export { MetricsServer, negotiate } from './server.js';
export type { CgroupReader, Roots } from './types.js';

/**
 * Wires the sidecar from validated `METRICS_CONFIG` values, for the
 * composition root: `const m = createMetricsSidecar(cfg, source, log); await m.server.start()`.
 */
export function createMetricsSidecar(
  cfg: ConfigValues,
  source: ContainerSource,
  logger: Logger,
): { collector: MetricsCollector; server: MetricsServer } {
  const listen = parseListen(String(cfg.listen));
  const collector = new MetricsCollector({
    source,
    logger,
    roots: parseRoots(String(cfg.roots)),
    labelsAllowlist: (cfg.labelsAllowlist as string[] | undefined) ?? [],
    labelsOnAllSeries: cfg.labelsOnAllSeries === true,
    collectors: cfg.collectors as string[] | undefined,
  });
  const server = new MetricsServer({
    collector,
    logger,
    host: listen.host,
    port: listen.port,
    gzip: cfg.gzip === true,
  });
  return { collector, server };
}

export { catalogFamilies } from './adapters/catalog.js';
export { dnsFamilies } from './adapters/dns.js';
export { logPipelineFamilies } from './adapters/logs.js';
export type { ExternalFamily, ExternalProvider } from './external.js';
