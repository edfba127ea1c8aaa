import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir, e.g. /tmp/berth-consul-Xa12b3. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `berth-${prefix.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
}

/** Removes a directory tree; missing is fine (after-hooks may run twice or after a failed start). */
export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
}
