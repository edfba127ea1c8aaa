import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join, posix } from 'node:path';
import { FailedPreconditionError, NotFoundError } from '../base/errors.js';

/**
 * Which cgroup hierarchy the host runs. Detected once at agent start (the
 * composition root calls `detectCgroups` and hands the result to whoever
 * needs it): the layout does not change while the host is up.
 */
export type CgroupVersion = 'v1' | 'v2' | 'hybrid';

export interface CgroupInfo {
  version: CgroupVersion;
  /** Mount point of the cgroup2 hierarchy (pure v2: the root; hybrid: usually `<root>/unified`). */
  unifiedMount?: string;
  /** v1 controller (`memory`, `cpu`, `name=systemd`, …) → mount path. Empty on pure v2. */
  v1Controllers: Record<string, string>;
}

export interface DetectOptions {
  /** Where the cgroup filesystems are mounted on this host (or a fixture tree standing for it). */
  cgroupRoot?: string;
  /** procfs root; `<procRoot>/self/mountinfo` is read. */
  procRoot?: string;
}

/** The canonical mount point: mountinfo paths under it are rebased onto `cgroupRoot`. */
const CANONICAL_ROOT = '/sys/fs/cgroup';

const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fsType = right[0];
    if (mountPoint === undefined || fsType === undefined) continue;
    out.push({
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return out;
}

function rebase(mountPoint: string, cgroupRoot: string): string {
  if (cgroupRoot === CANONICAL_ROOT) return mountPoint;
  if (mountPoint === CANONICAL_ROOT) return cgroupRoot;
  if (mountPoint.startsWith(`${CANONICAL_ROOT}/`)) {
    return join(cgroupRoot, mountPoint.slice(CANONICAL_ROOT.length + 1));
  }
  return mountPoint;
}

function exists(path: string): boolean {
  try {
    accessSync(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the mount table and classifies the host. Hybrid means v1 controller
 * hierarchies plus a cgroup2 mount (systemd's "unified" layout on older
 * distributions); pure v2 means cgroup2 at the root and no v1 controllers.
 */
export function detectCgroups(opts: DetectOptions = {}): CgroupInfo {
  const cgroupRoot = opts.cgroupRoot ?? CANONICAL_ROOT;
  const procRoot = opts.procRoot ?? '/proc';
  let mounts: MountEntry[] = [];
  try {
    mounts = parseMountinfo(readFileSync(join(procRoot, 'self', 'mountinfo'), 'utf8'));
  } catch {
    // No mountinfo (unusual chroot): fall back to looking at the root alone.
  }
  const v1Controllers: Record<string, string> = {};
  let unifiedMount: string | undefined;
  for (const m of mounts) {
    if (m.fsType === 'cgroup2') {
      const p = rebase(m.mountPoint, cgroupRoot);
      // Prefer the mount at the root when a cgroup2 fs is mounted more than once.
      if (unifiedMount === undefined || p === cgroupRoot) unifiedMount = p;
    } else if (m.fsType === 'cgroup') {
      const p = rebase(m.mountPoint, cgroupRoot);
      for (const o of m.superOptions) {
        if ((V1_CONTROLLERS.has(o) || o.startsWith('name=')) && v1Controllers[o] === undefined) {
          v1Controllers[o] = p;
        }
      }
    }
  }
  if (mounts.length === 0 && exists(join(cgroupRoot, 'cgroup.controllers'))) unifiedMount = cgroupRoot;
  const hasV1 = Object.keys(v1Controllers).some((k) => !k.startsWith('name='));
  if (unifiedMount !== undefined && !hasV1) {
    return { version: 'v2', unifiedMount, v1Controllers: {} };
  }
  if (!hasV1) {
    throw new FailedPreconditionError(
      `cgroups: no cgroup v1 controller or cgroup2 mount found (read ${join(procRoot, 'self', 'mountinfo')}, root ${cgroupRoot})`,
    );
  }
  return unifiedMount !== undefined
    ? { version: 'hybrid', unifiedMount, v1Controllers }
    : { version: 'v1', v1Controllers };
}

export type OciRuntimeName = 'runc' | 'crun';

/** Whether an executable `name` is on PATH. */
export function onPath(name: string, pathEnv = process.env.PATH ?? ''): boolean {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(posix.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next dir
    }
  }
  return false;
}

/**
 * crun only where the hierarchy is pure v2 (crun refuses hybrid hosts) and it
 * is installed; runc everywhere else. An explicit `crun` that cannot work is
 * an error rather than a silent fallback, so the operator learns why.
 */
export function chooseOciRuntime(
  info: CgroupInfo,
  pref: 'auto' | 'runc' | 'crun',
  isInstalled: (name: OciRuntimeName) => boolean = onPath,
): OciRuntimeName {
  if (pref === 'runc') return 'runc';
  const crunFits = info.version === 'v2';
  if (pref === 'crun') {
    if (!crunFits) {
      throw new FailedPreconditionError(
        `ociRuntime: crun needs a pure cgroup v2 host, this one is ${info.version}; use runc or auto`,
      );
    }
    if (!isInstalled('crun'))
      throw new FailedPreconditionError('ociRuntime: crun is not installed (not on PATH)');
    return 'crun';
  }
  return crunFits && isInstalled('crun') ? 'crun' : 'runc';
}

/**
 * Absolute path of a control file of a container's cgroup, e.g.
 * `cgroupFile(info, 'memory', '/berth/<id>', 'memory.limit_in_bytes')`.
 * On pure v2 the controller only documents intent; every file lives in the
 * unified hierarchy.
 */
export function cgroupFile(info: CgroupInfo, controller: string, relPath: string, file: string): string {
  const rel = relPath.replace(/^\/+/, '');
  if (info.version === 'v2') {
    if (info.unifiedMount === undefined) throw new NotFoundError('cgroups: no unified mount');
    return join(info.unifiedMount, rel, file);
  }
  const mount = info.v1Controllers[controller];
  if (mount === undefined) {
    throw new NotFoundError(`cgroups: controller ${controller} is not mounted on this ${info.version} host`);
  }
  return join(mount, rel, file);
}
