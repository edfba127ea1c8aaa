import type { Logger } from '../../runtime/base/log.js';
import type { Sidecar } from '../types.js';
import { type ConsulClientConfig, consulClientOptions } from './config.js';
import { ConsulCatalog } from './consul.js';
import { LocalCatalog } from './local.js';
import { catalogFamilies, registrarFamilies } from './metrics.js';
import { Registrar, type RegistrarOptions } from './registrar.js';
import type { Catalog } from './types.js';

/**
 * The catalog every other sidecar reads (DNS, HAProxy): Consul when an
 * address is given (`host[:port]` or an http(s) URL), else the local catalog
 * kept in `localPath`. Its metrics are the view's `berth_discovery_*`.
 */
export function createCatalogSidecar(deps: {
  nodeName: string;
  datacenter?: string;
  consul?: string;
  consulToken?: string;
  /** The Consul client's `consulClient.*` options (defaults: CONSUL_CONFIG's rows). */
  consulClient?: ConsulClientConfig;
  localPath: string;
  logger: Logger;
}): Sidecar & { catalog: Catalog } {
  const catalog: Catalog = deps.consul
    ? new ConsulCatalog({
        ...consulOptions(deps.consul),
        nodeName: deps.nodeName,
        datacenter: deps.datacenter,
        ...(deps.consulToken ? { token: deps.consulToken } : {}),
        ...(deps.consulClient ? consulClientOptions(deps.consulClient) : {}),
        log: deps.logger.child({ component: 'consul' }),
      })
    : new LocalCatalog({ nodeName: deps.nodeName, datacenter: deps.datacenter, path: deps.localPath });
  const endpoint = deps.consul ? `consul ${deps.consul}` : 'local';
  return {
    name: 'catalog',
    catalog,
    // Both catalogs work from construction (Consul's follows it in the background).
    start: async () => {},
    close: () => catalog.close(),
    endpoint: () => endpoint,
    metrics: { discovery: () => catalogFamilies(catalog.view()) },
  };
}

/**
 * Registration of the source's containers in the catalog from their labels,
 * with maintenance (drain) before a stop. Not optional: without it the
 * catalog would go stale behind the containers.
 */
export function createRegistrarSidecar(
  deps: Omit<RegistrarOptions, 'log'> & { logger: Logger },
): Sidecar & { registrar: Registrar } {
  const { logger, ...opts } = deps;
  const registrar = new Registrar({ ...opts, log: logger.child({ component: 'registrar' }) });
  return {
    name: 'registrar',
    registrar,
    start: () => registrar.start(),
    close: () => registrar.close(),
    preStop: (d) => registrar.preStop(d),
    metrics: { registrar: () => registrarFamilies(registrar.counters.snapshot()) },
  };
}

function consulOptions(addr: string): { host: string; port: number; secure: boolean } {
  const url = new URL(/^https?:\/\//.test(addr) ? addr : `http://${addr}`);
  const secure = url.protocol === 'https:';
  return { host: url.hostname, port: url.port ? Number(url.port) : 8500, secure };
}
