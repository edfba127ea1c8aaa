import { join } from 'node:path';
import type { Logger } from '../../runtime/base/log.js';
import type { ObserveSource } from '../../runtime/source/observe/source.js';
import type { ContainerSource } from '../../runtime/types.js';
import type { Catalog } from '../../sidecar/discovery/types.js';
import type { AgentConfig } from './config.js';

/** What the sidecars follow, as `--mode` says, and the config they start with. */
export interface Observed {
  /** The sidecars' ContainerSource: the runtime (run), observed containers (observe), or both. */
  source: ContainerSource;
  /** `cfg`, with metrics.roots defaulting to the host root's in observe mode. */
  cfg: AgentConfig;
  /** The observe source alone (observe and both modes), for the API's container list and logs; absent in run mode. */
  observer?: ObserveSource;
  /** Whether berth sets up its bridge: not when it only observes (a DaemonSet must not add a bridge to the node). */
  bridge: boolean;
  /** For startSidecars: the registrar's view of the catalog, without the `servicesDir` services. */
  registrarCatalog?: (catalog: Catalog) => Catalog;
  /** Registers the `servicesDir` services once the catalog runs, and follows the directory. */
  register(catalog: Catalog): Promise<void>;
  close(): Promise<void>;
}

/** The host paths observe mode reads, from `hostRoot` (`/` by default) and the explicit roots. */
export function observeRoots(cfg: Pick<AgentConfig, 'hostRoot' | 'dockerRoot' | 'hostLogRoot'>) {
  const host = cfg.hostRoot ?? '/';
  return {
    proc: join(host, 'proc'),
    sys: join(host, 'sys'),
    cgroup: join(host, 'sys/fs/cgroup'),
    docker: cfg.dockerRoot ?? join(host, 'var/lib/docker'),
    log: cfg.hostLogRoot ?? join(host, 'var/log'),
    run: join(host, 'run'),
  };
}

/**
 * `cfg` with metrics.roots following `hostRoot` when observing and the file
 * names none (also what `berth agent --check-config` prints: src/agent/check.ts).
 */
export function withHostRoots(cfg: AgentConfig): AgentConfig {
  const metrics = cfg.sections.metrics ?? {};
  if (cfg.mode === 'run' || cfg.hostRoot === undefined || metrics.roots !== undefined) return cfg;
  const roots = observeRoots(cfg);
  return {
    ...cfg,
    sections: {
      ...cfg.sections,
      metrics: { ...metrics, roots: `${roots.proc}:${roots.sys}:${roots.cgroup}` },
    },
  };
}

/**
 * Builds the sidecars' source for `cfg.mode` (runtime/source/observe):
 * `run` hands on berth's runtime, `observe` the observed containers alone,
 * `both` the two merged. The observe source has scanned once when this
 * resolves, so the sidecars' first list already has the host's containers.
 */
export async function observeSource(
  cfg: AgentConfig,
  runtimeSource: ContainerSource,
  logger: Logger,
): Promise<Observed> {
  // The observer and the service files (chokidar, probes) are loaded only when asked for: an agent in
  // `--mode run` without `--services-dir` never carries their code in its heap.
  const files = cfg.servicesDir
    ? new (await import('./services.js')).ServiceFiles(cfg.servicesDir, cfg, logger)
    : undefined;
  await files?.prime();
  const services = files
    ? { registrarCatalog: files.wrap, register: (c: Catalog) => files.start(c) }
    : { register: async () => {} };
  if (cfg.mode === 'run') {
    return { source: runtimeSource, cfg, bridge: true, ...services, close: async () => files?.close() };
  }
  const roots = observeRoots(cfg);
  const [{ ObserveSource }, { MergedSource }] = await Promise.all([
    import('../../runtime/source/observe/source.js'),
    import('../../runtime/source/merged.js'),
  ]);
  const observe = new ObserveSource({
    roots,
    rescanIntervalMs: cfg.observeRescanInterval,
    skipCgroupParents: cfg.observeSkipCgroups,
    logger: logger.child({ component: 'observe' }),
  });
  await observe.start();
  logger.info(
    { mode: cfg.mode, hierarchy: observe.scannedHierarchy, docker: roots.docker, log: roots.log },
    'observe: following the host’s containers',
  );
  return {
    source: cfg.mode === 'observe' ? observe : new MergedSource([runtimeSource, observe]),
    observer: observe,
    cfg: withHostRoots(cfg),
    bridge: cfg.mode === 'both',
    ...services,
    close: async () => {
      await files?.close();
      await observe.close();
    },
  };
}
