import { readdirSync, statfsSync, statSync } from 'node:fs';
import { NotFoundError } from '../../../runtime/base/errors.js';
import { isMissing, listOptional } from '../fsread.js';
import type { Collector } from '../types.js';

/** statfs magic of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Whether `stat(<proc>/<pid>/fd).size` is the number of open descriptors:
 * procfs does that since Linux 6.2 (0 before), which spares listing the
 * directory (a dentry per descriptor). Decided once per proc root: it must be
 * procfs (a fixture tree's directory size is its block size), and /proc/self/fd
 * must report a size that matches its listing. Anything unexpected → list.
 */
const countable = new Map<string, boolean>();
export function fdCountFromSize(proc: string): boolean {
  let yes = countable.get(proc);
  if (yes === undefined) {
    try {
      // self: the agent always has fds open, so a kernel that counts reports > 0.
      const listed = readdirSync(`${proc}/self/fd`).length;
      const size = statSync(`${proc}/self/fd`).size;
      // readdir's own descriptor is open while it lists and closed before stat: allow one.
      yes = statfsSync(proc).type === PROC_SUPER_MAGIC && size > 0 && Math.abs(size - listed) <= 1;
    } catch {
      // Not a procfs we can inspect: fall back to counting the listing.
      yes = false;
    }
    countable.set(proc, yes);
  }
  return yes;
}

/** Open descriptors of one process, or undefined when it is gone. */
async function countFds(proc: string, pid: number): Promise<number | undefined> {
  const dir = `${proc}/${pid}/fd`;
  if (fdCountFromSize(proc)) {
    try {
      return statSync(dir).size;
    } catch (err) {
      if (!isMissing(err)) throw err;
      return undefined;
    }
  }
  return (await listOptional(dir))?.length;
}

/**
 * Processes from cgroup.procs and their open descriptors summed, as
 * cAdvisor counts `container_file_descriptors` (every process of the
 * cgroup; container/libcontainer/handler.go processStatsFromProcs). With
 * Linux ≥ 6.2 that is one stat per process. A process that exits between
 * the listing and its count is left out; when none of them (nor the init
 * berth knows) can be counted, the container vanished.
 */
export const fdsCollector: Collector = {
  name: 'fds',
  scope: 'container',
  async update(t, emit) {
    const procs = await t.reader.procs(t.cgroupPath);
    emit('container_processes', {}, procs.length);
    const pid = t.container.pid;
    if (pid === undefined) return;
    let total = 0;
    let counted = 0;
    for (const p of procs.includes(pid) ? procs : [pid, ...procs]) {
      const n = await countFds(t.roots.proc, p);
      if (n === undefined) continue;
      total += n;
      counted++;
    }
    if (counted === 0) throw new NotFoundError(`process ${pid} of ${t.container.name} is gone`);
    emit('container_file_descriptors', {}, total);
  },
};
