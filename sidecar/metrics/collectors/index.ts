import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { SpecCache } from '../spec-cache.js';
import type { Collector } from '../types.js';
import { blkioCollector } from './blkio.js';
import { cpuCollector } from './cpu.js';
import { fdsCollector } from './fds.js';
import { fsCollector } from './fs.js';
import { machineCollector } from './machine.js';
import { memoryCollector } from './memory.js';
import { networkCollector } from './network.js';
import { pidsCollector } from './pids.js';
import { specCollector } from './spec.js';

/** What the collectors of one MetricsCollector share: the limits cache (spec and cpu). */
interface Shared {
  spec: SpecCache;
}

/** Collectors by name; each call builds fresh instances (some keep small caches). */
export const COLLECTOR_FACTORIES: Readonly<Record<string, (shared: Shared) => Collector>> = {
  cpu: (shared) => cpuCollector({ cache: shared.spec }),
  memory: () => memoryCollector,
  blkio: blkioCollector,
  pids: () => pidsCollector,
  network: () => networkCollector,
  fds: () => fdsCollector,
  fs: () => fsCollector(),
  spec: (shared) => specCollector({ cache: shared.spec }),
  machine: () => machineCollector,
};

export const COLLECTOR_NAMES = Object.keys(COLLECTOR_FACTORIES);

export function createCollectors(names: readonly string[] = COLLECTOR_NAMES): Collector[] {
  const shared: Shared = { spec: new SpecCache() };
  return names.map((n) => {
    const make = COLLECTOR_FACTORIES[n];
    if (!make) {
      throw new InvalidArgumentError(
        `collectors: unknown collector ${JSON.stringify(n)} (known: ${COLLECTOR_NAMES.join(', ')})`,
        { field: 'collectors' },
      );
    }
    return make(shared);
  });
}
