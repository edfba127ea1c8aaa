import type { Logger } from '../../runtime/base/log.js';
import type { ContainerSource } from '../../runtime/types.js';
import type { Sidecar } from '../types.js';
import { ContainerNameIndex } from './container-names.js';
import { dnsFamilies } from './metrics.js';
import { DnsServer, type DnsServerOptions } from './server.js';

/**
 * The embedded DNS sidecar for the composition root: the container name index
 * (`<name>.<domain>`, kept current from the source) and the server answering
 * from the catalog view on `server.listen`. Optional: the agent runs on
 * without its DNS server when it cannot listen (a port in use).
 */
export function createDnsSidecar(deps: {
  source: ContainerSource;
  server: Omit<DnsServerOptions, 'containerNames' | 'containerScope' | 'log'>;
  logger: Logger;
}): Sidecar & { server: DnsServer } {
  const names = new ContainerNameIndex(deps.source, deps.logger.child({ component: 'names' }));
  const server = new DnsServer({
    ...deps.server,
    containerNames: () => names.names(),
    // Names by the asking client's networks (container-names.ts): a container on B never resolves A's.
    containerScope: (client) => names.scope(client),
    log: deps.logger.child({ component: 'dns' }),
  });
  return {
    name: 'dns',
    server,
    async start() {
      await names.start();
      try {
        await server.start();
      } catch (err) {
        // Nothing would read the index: stop following the source before reporting.
        await names.close();
        throw err;
      }
    },
    async close() {
      await server.close();
      await names.close();
    },
    endpoint: () =>
      server
        .addresses()
        .map((a) => `${a.address}:${a.port}`)
        .join(', '),
    metrics: { dns: () => dnsFamilies(server.counters.snapshot()) },
    optional: {
      status: 'not serving',
      warning: 'dns: cannot listen; the agent runs without its DNS server',
      context: { listen: deps.server.listen },
    },
  };
}
