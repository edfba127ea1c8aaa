import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProcCgroup } from '../../cgroups/proc.js';
import { type CgroupMatch, parseCgroupPath } from './layout.js';
import { readBounded } from './safe-read.js';

/**
 * The cgroup of process `pid` in the scanned hierarchy (`controller` '' for
 * the unified one), when its last component names container `id` (a reused
 * pid names another cgroup, and is not believed) and the directory is there.
 * For a Docker container whose cgroup the walk does not reach.
 */
export async function cgroupOfPid(
  where: { proc: string; hierarchy: string; controller: string },
  id: string,
  pid: number,
): Promise<{ path: string; match: CgroupMatch } | undefined> {
  const text = await readBounded(where.proc, join(where.proc, String(pid), 'cgroup'), 64 * 1024);
  if (text === undefined) return undefined;
  const line = parseProcCgroup(text).find((l) =>
    where.controller === '' ? l.hierarchy === '0' : l.controllers.includes(where.controller),
  );
  const match = line ? parseCgroupPath(line.path) : undefined;
  if (!line || match?.id !== id) return undefined;
  try {
    if (!(await stat(join(where.hierarchy, line.path))).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return { path: line.path, match };
}
