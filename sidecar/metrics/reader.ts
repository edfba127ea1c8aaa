import { HOST_ROOTS as RUNTIME_HOST_ROOTS } from '../../runtime/cgroups/roots.js';
import { CgroupV1Reader } from './cgroup-v1.js';
import { CgroupV2Reader } from './cgroup-v2.js';
import { detectCgroups } from './detect.js';
import type { OpenFiles } from './open-files.js';
import type { CgroupReader, Roots } from './types.js';

/**
 * Detects the cgroup version once and returns the matching reader; with
 * `files` it keeps cgroup files open between scrapes (see open-files.ts).
 */
export async function createCgroupReader(roots: Roots, files?: OpenFiles): Promise<CgroupReader> {
  const layout = await detectCgroups(roots);
  return layout.version === 'v1' ? new CgroupV1Reader(layout, files) : new CgroupV2Reader(layout, files);
}

/** The host's own roots (the runtime's `HOST_ROOTS`). */
export const HOST_ROOTS: Roots = RUNTIME_HOST_ROOTS;
