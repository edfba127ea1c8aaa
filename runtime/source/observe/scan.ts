import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type CgroupMatch, descendInto, parseCgroupPath } from './layout.js';

export interface ScanLimits {
  /** Deepest directory level visited below the hierarchy root (kubepods QoS pods are at 4). */
  maxDepth: number;
  /** Most directories read per scan: a tree grown by a hostile delegate cannot make a scan unbounded. */
  maxDirs: number;
  /** Parents (paths from the hierarchy root, e.g. `/berth`) whose containers are someone else's. */
  skip: readonly string[];
}

export interface ScanResult {
  /** Container id → its cgroup path (`/docker/<id>`) and what the path says. */
  containers: Map<string, { path: string; match: CgroupMatch }>;
  /** The directories read (the ones worth watching for new containers). */
  dirs: string[];
  /** True when `maxDirs` stopped the scan short. */
  truncated: boolean;
}

/**
 * Walks one cgroup hierarchy breadth first and collects the container
 * cgroups (layout.ts): it does not descend into a container (its children
 * are its own business) nor into systemd units other than slices.
 */
export async function scanHierarchy(root: string, limits: ScanLimits): Promise<ScanResult> {
  const res: ScanResult = { containers: new Map(), dirs: [], truncated: false };
  let level: string[] = [''];
  for (let depth = 0; depth <= limits.maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      if (res.dirs.length >= limits.maxDirs) {
        res.truncated = true;
        return res;
      }
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(join(root, rel), { withFileTypes: true });
      } catch {
        continue; // removed meanwhile
      }
      res.dirs.push(rel === '' ? '/' : rel);
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const path = `${rel}/${e.name}`;
        if (limits.skip.includes(path)) continue;
        const match = parseCgroupPath(path);
        if (match) {
          if (!res.containers.has(match.id)) res.containers.set(match.id, { path, match });
        } else if (depth < limits.maxDepth && descendInto(e.name)) {
          next.push(path);
        }
      }
    }
    level = next;
  }
  return res;
}
