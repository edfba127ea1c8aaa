import { join } from 'node:path';

/**
 * Where every read of procfs, sysfs and cgroupfs starts. The agent uses the
 * host's own (`HOST_ROOTS`); observe mode in a DaemonSet points them at the
 * host's mounts (`/host/proc`, `/host/sys`, `/host/sys/fs/cgroup`); tests
 * point them at fixture trees (test/fixtures/cgroups, test/fixtures/metrics)
 * so the same code reads both. `cgroup` stands for the host path
 * `/sys/fs/cgroup`: mount points found in mountinfo under that prefix are
 * re-rooted there.
 */
export interface HostRoots {
  proc: string;
  sys: string;
  cgroup: string;
}

/** The host path that `HostRoots.cgroup` stands for. */
export const HOST_CGROUP_MOUNT = '/sys/fs/cgroup';

export const HOST_ROOTS: Readonly<HostRoots> = Object.freeze({
  proc: '/proc',
  sys: '/sys',
  cgroup: HOST_CGROUP_MOUNT,
});

/** `HOST_ROOTS` with the given ones replaced. */
export function hostRoots(partial: Partial<HostRoots> = {}): HostRoots {
  return { ...HOST_ROOTS, ...partial };
}

/**
 * Maps a host mount point to a path under `roots.cgroup`. A mount point outside
 * `/sys/fs/cgroup` is only meaningful on the host itself: under other roots it
 * is put beneath them, so a fixture tree never reads the real host.
 */
export function rerootCgroupMount(roots: Pick<HostRoots, 'cgroup'>, mountPoint: string): string {
  if (roots.cgroup === HOST_CGROUP_MOUNT) return mountPoint;
  if (mountPoint === HOST_CGROUP_MOUNT) return roots.cgroup;
  if (mountPoint.startsWith(`${HOST_CGROUP_MOUNT}/`)) {
    return join(roots.cgroup, mountPoint.slice(HOST_CGROUP_MOUNT.length + 1));
  }
  return join(roots.cgroup, mountPoint);
}
