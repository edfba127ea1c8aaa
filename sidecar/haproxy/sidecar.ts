import type { Logger } from '../../runtime/base/log.js';
import type { Catalog } from '../discovery/types.js';
import type { Sidecar } from '../types.js';
import type { HaproxyOptions } from './config.js';
import { HaproxyManager } from './manager.js';
import { haproxyFamilies } from './metrics.js';

/**
 * The HAProxy sidecar for the composition root: follows the catalog, drains a
 * container's servers before it stops, exports `berth_haproxy_*`. Optional:
 * the agent runs on without load balancing when HAProxy cannot start. On
 * close a managed HAProxy keeps running (containers outlive the agent, and so
 * does the HAProxy in front of them; the next start adopts it).
 */
export function createHaproxySidecar(deps: {
  catalog: Catalog;
  options: HaproxyOptions;
  logger: Logger;
}): Sidecar & { manager: HaproxyManager } {
  const manager = new HaproxyManager({
    catalog: deps.catalog,
    options: deps.options,
    logger: deps.logger.child({ component: 'haproxy' }),
  });
  return {
    name: 'haproxy',
    manager,
    start: () => manager.start(),
    close: () => manager.close({ keepHaproxy: true }),
    endpoint: () => deps.options.mode,
    preStop: async (d) => {
      await manager.preStop(d);
    },
    metrics: { haproxy: () => haproxyFamilies(manager.metrics.snapshot()) },
    optional: {
      status: 'not running',
      warning: 'haproxy: cannot start; the agent runs without load balancing',
    },
  };
}
