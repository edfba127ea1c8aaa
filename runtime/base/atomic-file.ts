import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** Mode of a newly written file (the umask applies); default 0o644. */
  mode?: number;
  /**
   * fsync the file before the rename and its directory after it; default true.
   * Without it a crash may leave an empty file behind the rename: fine only for
   * files rebuilt on every use.
   */
  sync?: boolean;
  /** Create the parent directory (and its parents) first; default false. */
  mkdir?: boolean;
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new
 * content, never a torn file: write a temp file beside it, fsync, rename over,
 * fsync the directory (so the rename itself survives a power loss).
 *
 * The temp name carries the pid and a random suffix, so concurrent writers of
 * one path (in this process or another) never share a temp file: the last
 * rename wins and each reader sees one whole version. The temp file is removed
 * when any step fails.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const sync = opts.sync !== false;
  if (opts.mkdir) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx': a leftover with the same name is never written through.
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      await fh.writeFile(data);
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (sync) await fsyncDir(dir);
}

/** fsync a file or directory by path (a directory's fsync makes renames and creates in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes the entries of `dir` (a rename into it, a new file) survive a power loss. */
export function fsyncDir(dir: string): Promise<void> {
  return fsyncPath(dir);
}
