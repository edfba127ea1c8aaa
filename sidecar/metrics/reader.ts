import { CgroupV1Reader } from './cgroup-v1.js';
import { CgroupV2Reader } from './cgroup-v2.js';
import { detectCgroups } from './detect.js';
import type { CgroupReader, Roots } from './types.js';

/** Detects the cgroup version once and returns the matching reader. */
export async function createCgroupReader(roots: Roots): Promise<CgroupReader> {
  const layout = await detectCgroups(roots);
  return layout.version === 'v1' ? new CgroupV1Reader(layout) : new CgroupV2Reader(layout);
}

export const HOST_ROOTS: Roots = { proc: '/proc', sys: '/sys', cgroup: '/sys/fs/cgroup' };
