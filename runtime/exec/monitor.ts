import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { HostProc } from '../cgroups/proc.js';

/** A pid file's content as a pid, or undefined when it is not one. */
export function parsePid(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The pid in a pid file; undefined while it is not written (or already removed). */
export async function readPid(path: string): Promise<number | undefined> {
  try {
    return parsePid(await readFile(path, 'utf8'));
  } catch {
    // not written yet / already cleaned up: no monitor to name
    return undefined;
  }
}

/** A conmon seen alive: pid plus start time name one process for good. */
export interface LiveMonitor {
  pid: number;
  start: string;
}

/**
 * Whether a container's monitor (conmon) still runs, read from procfs
 * through `HostProc`: pids are reused, so a pid alone proves nothing; its
 * command line (conmon, with the container id) or its start time must match.
 */
export class MonitorProbe {
  constructor(private readonly proc: HostProc) {}

  /** Start time of a live, non-zombie process (see HostProc.startTime). */
  startTime(pid: number): string | undefined {
    return this.proc.startTime(pid);
  }

  /** True when `monitor` is still the same live process (the wait poll's cheap check). */
  stillRuns(monitor: LiveMonitor): boolean {
    return this.proc.startTime(monitor.pid) === monitor.start;
  }

  /** The conmon named by the pid file, right after a full check found it alive (synchronous: the poll's path). */
  live(pidFile: string): LiveMonitor | undefined {
    let pid: number | undefined;
    try {
      pid = parsePid(readFileSync(pidFile, 'utf8'));
    } catch {
      // no pid file (container deleted meanwhile): nothing to remember
      return undefined;
    }
    const start = pid === undefined ? undefined : this.proc.startTime(pid);
    return pid === undefined || start === undefined ? undefined : { pid, start };
  }

  /** True when `pid` is still the conmon of container `id` (guards against pid reuse). */
  async isConmon(pid: number, id: string): Promise<boolean> {
    const cmdline = await this.proc.cmdline(pid);
    if (cmdline === undefined) return false;
    // A zombie conmon (parent has not reaped it yet) is as good as gone.
    if (this.proc.startTime(pid) === undefined) return false;
    return cmdline.some((a) => a.endsWith('conmon')) && cmdline.includes(id);
  }
}
