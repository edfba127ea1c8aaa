import { readFile } from 'node:fs/promises';
import { parseMountinfo } from '../cgroups/mountinfo.js';

/** Mount points currently in this process's mount namespace (the one mountinfo parser: runtime/cgroups/mountinfo.ts). */
export async function mountPoints(mountinfoPath = '/proc/self/mountinfo'): Promise<Set<string>> {
  const text = await readFile(mountinfoPath, 'utf8');
  return new Set(parseMountinfo(text).map((m) => m.mountPoint));
}
