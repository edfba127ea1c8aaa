import { join } from 'node:path';
import { FailedPreconditionError } from '../../runtime/base/errors.js';
import { readOptional } from './fsread.js';
import type { CgroupVersion, Roots } from './types.js';

/** The host path that `Roots.cgroup` stands for. */
export const HOST_CGROUP_MOUNT = '/sys/fs/cgroup';

export interface CgroupLayout {
  version: CgroupVersion;
  /** v1: controller name (`memory`, `cpu`, `cpuacct`, `blkio`, `pids`, …) → directory under the roots. */
  controllers: Map<string, string>;
  /** The cgroup2 mount under the roots, when one is mounted. */
  unified?: string;
}

/**
 * Detects the cgroup layout once from `<proc>/1/mountinfo` (else `<proc>/self/mountinfo`). A host with any
 * v1 controller mounted (pure v1, or hybrid with an empty cgroup2 beside it) is
 * read with the v1 reader, since that is where the controllers' files are; a
 * host with only cgroup2 is v2.
 */
export async function detectCgroups(roots: Roots): Promise<CgroupLayout> {
  // PID 1's view first: in a DaemonSet with the host's /proc at /host/proc, `self`
  // is the agent's own (container) mount namespace, while 1 is the host's.
  let file = join(roots.proc, '1/mountinfo');
  let text = await readOptional(file);
  if (text === undefined) {
    file = join(roots.proc, 'self/mountinfo');
    text = await readOptional(file);
  }
  if (text === undefined) throw new FailedPreconditionError(`cgroups: ${file} does not exist`);
  const controllers = new Map<string, string>();
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    // mountinfo: id parent maj:min root mountpoint opts [optional…] - fstype source superopts
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const mountPoint = unescapeMount(left[4] ?? '');
    const fstype = right[0];
    if (fstype === 'cgroup2') {
      unified = reroot(roots, mountPoint);
    } else if (fstype === 'cgroup') {
      const dir = reroot(roots, mountPoint);
      for (const opt of (right[2] ?? '').split(',')) {
        if (NOT_CONTROLLERS.has(opt) || opt.includes('=')) continue;
        if (!controllers.has(opt)) controllers.set(opt, dir);
      }
    }
  }
  if (controllers.size > 0) return { version: 'v1', controllers, unified };
  if (unified !== undefined) return { version: 'v2', controllers, unified };
  throw new FailedPreconditionError(`cgroups: no cgroup or cgroup2 mount in ${file}`);
}

const NOT_CONTROLLERS = new Set([
  'rw',
  'ro',
  'clone_children',
  'noprefix',
  'xattr',
  'cpuset_v2_mode',
  'none',
  'all',
]);

/** Maps a host mount point to a directory under the configured cgroup root. */
function reroot(roots: Roots, mountPoint: string): string {
  if (mountPoint === HOST_CGROUP_MOUNT) return roots.cgroup;
  if (mountPoint.startsWith(`${HOST_CGROUP_MOUNT}/`)) {
    return join(roots.cgroup, mountPoint.slice(HOST_CGROUP_MOUNT.length + 1));
  }
  // A non-standard mount point is only meaningful on the host itself.
  return roots.cgroup === HOST_CGROUP_MOUNT ? mountPoint : join(roots.cgroup, mountPoint);
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
