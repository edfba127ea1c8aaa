import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path` (v2's line is `0::/path`). */
export interface ProcCgroup {
  hierarchy: string;
  /** v1 controllers of the hierarchy (`['cpu', 'cpuacct']`, `['name=systemd']`); empty for the unified one. */
  controllers: string[];
  /** The process's cgroup relative to the hierarchy's mount. */
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroup[] {
  const out: ProcCgroup[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    out.push({
      hierarchy: line.slice(0, first),
      controllers: controllers === '' ? [] : controllers.split(','),
      path: line.slice(second + 1),
    });
  }
  return out;
}

/** True for the errors that mean "this file or process is not there (any more)". */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // ESRCH/ENODEV: reading a /proc/<pid> file of a process that just exited.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH' || code === 'ENODEV';
}

/**
 * The procfs reads of the runtime (executor, spec builder),
 * all under one root so observe mode and tests can point it elsewhere. Reads
 * of a process that is gone answer undefined; other errors (EACCES) too where
 * the caller only asks "is it there", as each method says.
 */
export class HostProc {
  constructor(readonly root = '/proc') {}

  path(...parts: Array<string | number>): string {
    return join(this.root, ...parts.map(String));
  }

  /**
   * The start time (clock ticks since boot, field 22 of `<pid>/stat`) of a live
   * process: with the pid it names one process for good (pids are reused,
   * start times are not). Undefined when it is gone, unreadable or a zombie.
   * Synchronous: the executor's periodic liveness poll calls it per container.
   */
  startTime(pid: number): string | undefined {
    let stat: string;
    try {
      stat = readFileSync(this.path(pid, 'stat'), 'utf8');
    } catch {
      // gone (ENOENT/ESRCH): not a live process, which is the answer
      return undefined;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  }

  /** `<pid>/cmdline` split at NULs; undefined when the process is gone or unreadable. */
  async cmdline(pid: number): Promise<string[] | undefined> {
    try {
      return (await readFile(this.path(pid, 'cmdline'), 'utf8')).split('\0');
    } catch {
      // gone: the caller's question ("is it still that process?") is answered no
      return undefined;
    }
  }

  /** `<pid>/cgroup`; undefined when the process is gone or unreadable. */
  async cgroups(pid: number): Promise<ProcCgroup[] | undefined> {
    try {
      return parseProcCgroup(await readFile(this.path(pid, 'cgroup'), 'utf8'));
    } catch {
      // gone before we looked: no cgroup to report
      return undefined;
    }
  }

  /** `self/<file>` of the agent's own process (status, limits); undefined when unreadable. */
  selfFile(file: 'status' | 'limits'): string | undefined {
    try {
      return readFileSync(this.path('self', file), 'utf8');
    } catch {
      // no procfs (unusual chroot): callers fall back to their documented defaults
      return undefined;
    }
  }
}
