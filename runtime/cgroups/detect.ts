import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join, posix } from 'node:path';
import { FailedPreconditionError, messageOf, NotFoundError } from '../base/errors.js';
import { type MountEntry, parseMountinfo } from './mountinfo.js';
import type { ProcCgroup } from './proc.js';
import { type HostRoots, hostRoots, rerootCgroupMount } from './roots.js';

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
  /**
   * Whose mount table to read. `self` (default): the agent's own
   * (`<proc>/self/mountinfo`), where the runtime creates cgroups. `host`: PID
   * 1's (`<proc>/1/mountinfo`, else `self`): in a DaemonSet with the host's
   * /proc at /host/proc, `self` is the agent container's mount namespace
   * while 1 is the host's.
   */
  view?: 'self' | 'host';
}

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

function exists(path: string): boolean {
  try {
    accessSync(path, constants.F_OK);
    return true;
  } catch {
    // ENOENT (or no access): either way there is nothing for us there
    return false;
  }
}

/** The mount table per `view`, the file it came from, or why none could be read. */
function readMountTable(
  proc: string,
  view: 'self' | 'host',
): { file: string; mounts?: MountEntry[]; error?: string } {
  const files = (view === 'host' ? ['1', 'self'] : ['self']).map((p) => join(proc, p, 'mountinfo'));
  let error = '';
  for (const file of files) {
    try {
      return { file, mounts: parseMountinfo(readFileSync(file, 'utf8')) };
    } catch (err) {
      // Try the next view; the last one's reason goes into the error if nothing else works.
      error = messageOf(err);
    }
  }
  return { file: files[files.length - 1] ?? '', error };
}

/**
 * Reads the mount table and classifies the host. Hybrid means v1 controller
 * hierarchies plus a cgroup2 mount (systemd's "unified" layout on older
 * distributions); pure v2 means cgroup2 at the root and no v1 controllers.
 * Without a mount table (unusual chroot), `<cgroup>/cgroup.controllers` means
 * pure v2; otherwise detection fails naming the file and the reason.
 */
export function detectCgroups(roots: Partial<HostRoots> = {}, opts: DetectOptions = {}): CgroupInfo {
  const r = hostRoots(roots);
  const table = readMountTable(r.proc, opts.view ?? 'self');
  const v1Controllers: Record<string, string> = {};
  let unifiedMount: string | undefined;
  for (const m of table.mounts ?? []) {
    if (m.fsType === 'cgroup2') {
      const p = rerootCgroupMount(r, m.mountPoint);
      // Prefer the mount at the root when a cgroup2 fs is mounted more than once.
      if (unifiedMount === undefined || p === r.cgroup) unifiedMount = p;
    } else if (m.fsType === 'cgroup') {
      const p = rerootCgroupMount(r, m.mountPoint);
      for (const o of m.superOptions) {
        if ((V1_CONTROLLERS.has(o) || o.startsWith('name=')) && v1Controllers[o] === undefined) {
          v1Controllers[o] = p;
        }
      }
    }
  }
  if (table.mounts === undefined && exists(join(r.cgroup, 'cgroup.controllers'))) unifiedMount = r.cgroup;
  const hasV1 = Object.keys(v1Controllers).some((k) => !k.startsWith('name='));
  if (unifiedMount !== undefined && !hasV1) {
    return { version: 'v2', unifiedMount, v1Controllers: {} };
  }
  if (!hasV1) {
    const read =
      table.mounts === undefined ? `cannot read ${table.file}: ${table.error}` : `read ${table.file}`;
    throw new FailedPreconditionError(
      `cgroups: no cgroup v1 controller or cgroup2 mount found (${read}, root ${r.cgroup})`,
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
      // not in this dir (or not executable): look in the next one
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

/**
 * The file whose `oom_kill` counter tells whether the kernel OOM-killed
 * inside a process's cgroup: the memory hierarchy's `memory.oom_control`
 * (v1, hybrid), else the unified hierarchy's `memory.events` (pure v2).
 * `cgroups` is the process's `/proc/<pid>/cgroup`.
 */
export function oomCounterFile(info: CgroupInfo, cgroups: ProcCgroup[]): string | undefined {
  let unified: string | undefined;
  for (const cg of cgroups) {
    if (cg.controllers.includes('memory')) {
      const mount = info.v1Controllers.memory;
      return mount === undefined ? undefined : join(mount, cg.path, 'memory.oom_control');
    }
    if (cg.controllers.length === 0) unified = cg.path;
  }
  return unified !== undefined && info.unifiedMount !== undefined
    ? join(info.unifiedMount, unified, 'memory.events')
    : undefined;
}
