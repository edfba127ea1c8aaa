import { detectCgroups as detectHostCgroups } from '../../runtime/cgroups/detect.js';
import type { CgroupVersion, Roots } from './types.js';

export { HOST_CGROUP_MOUNT } from '../../runtime/cgroups/roots.js';

/** How the metrics readers see the host's cgroups: which reader, and where its files are. */
export interface CgroupLayout {
  version: CgroupVersion;
  /** v1: controller name (`memory`, `cpu`, `cpuacct`, `blkio`, `pids`, …) → directory under the roots. */
  controllers: Map<string, string>;
  /** The cgroup2 mount under the roots, when one is mounted. */
  unified?: string;
}

/**
 * The runtime's one detection (runtime/cgroups/detect.ts), read from the
 * host's view (`<proc>/1/mountinfo`, else `self`), turned into the reader's
 * layout: a host with any v1 controller mounted (pure v1, or hybrid with an
 * empty cgroup2 beside it) is read with the v1 reader, since that is where the
 * controllers' files are; a host with only cgroup2 is v2. Named hierarchies
 * (`name=systemd`) hold no controller files and are left out.
 */
export async function detectCgroups(roots: Roots): Promise<CgroupLayout> {
  const info = detectHostCgroups(roots, { view: 'host' });
  const controllers = new Map<string, string>();
  for (const [name, dir] of Object.entries(info.v1Controllers)) {
    if (!name.includes('=')) controllers.set(name, dir);
  }
  return {
    version: info.version === 'v2' ? 'v2' : 'v1',
    controllers,
    ...(info.unifiedMount !== undefined ? { unified: info.unifiedMount } : {}),
  };
}
