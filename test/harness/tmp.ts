import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directories made by tempDir and not yet removed by removeDir. */
const made = new Set<string>();
let hooked = false;

/**
 * A fresh directory under the OS temp dir, e.g. /tmp/berth-consul-Xa12b3.
 * Whatever the caller does not remove goes when the process exits (see
 * removeLeftovers), so a test that forgets, or fails early, leaves nothing.
 */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `berth-${prefix.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
  made.add(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', removeLeftovers);
  }
  return dir;
}

/** Removes a directory tree; missing is fine (after-hooks may run twice or after a failed start). */
export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
  made.delete(path);
}

/**
 * At exit: removes the temp dirs still there (image tarballs, configs). A dir
 * with something still mounted under it is left alone: removing through a
 * mount would reach into whatever is mounted (the harness sweep unmounts
 * agents' snapshots; a left dir then names what leaked).
 */
function removeLeftovers(): void {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    // No procfs: remove nothing rather than guess.
    return;
  }
  for (const dir of made) {
    if (mounts.includes(` ${dir}/`) || mounts.includes(` ${dir} `)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Exiting anyway: a dir that cannot be removed stays, as before.
    }
  }
}
