import { constants } from 'node:fs';
import { type FileHandle, open, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { FailedPreconditionError } from '../../base/errors.js';

/**
 * Reading the host's files as hostile input. Everything observe mode reads
 * (Docker's config.v2.json, the kubelet's log symlinks, cgroup.procs) was
 * written by an engine on behalf of a container, or sits in a directory a
 * container may reach: a read is bounded in size, and a path is only read
 * when it stays inside its root after symlinks (a `config.v2.json` that is a
 * symlink to /etc/shadow, or a log symlink into /root, is refused).
 */

/** True when `path` is `root` or below it. Both absolute and normalized. */
export function isUnder(root: string, path: string): boolean {
  const r = relative(root, path);
  // `..` as a whole first segment leaves the root; a name starting with `..` (the kubelet's
  // `..data` and `..<timestamp>` in every ConfigMap and Secret volume) does not.
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/**
 * Reads `path` (under `root`) as UTF-8 when it is a regular file of at most
 * `maxBytes` whose real path stays under `root`; undefined when it is absent,
 * too large, not a regular file or outside the root.
 */
export async function readBounded(root: string, path: string, maxBytes: number): Promise<string | undefined> {
  let fh: FileHandle | undefined;
  try {
    fh = await openUnder(root, path);
  } catch {
    return undefined;
  }
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    // cgroup and proc files are regular files of size 0: read up to the bound instead.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, st.size > 0 ? st.size + 1 : maxBytes + 1));
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n >= buf.length) break;
    }
    if (n > maxBytes) return undefined;
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * The target of the symlink at `link`, resolved against its directory, when
 * it stays under `root` (the kubelet's /var/log/containers links point into
 * /var/log/pods); undefined otherwise. Relative and absolute targets alike:
 * an absolute target is taken as a host path, so it is re-rooted under
 * `hostPrefix` (the host's `/var/log` seen at `root`).
 */
export async function linkTargetUnder(
  root: string,
  link: string,
  hostPrefix: string,
): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(link);
  } catch {
    return undefined;
  }
  let abs: string;
  if (isAbsolute(target)) {
    const n = normalize(target);
    // An absolute target names the host's path: /var/log/pods/… → <root>/pods/…
    if (!isUnder(hostPrefix, n)) return undefined;
    abs = join(root, relative(hostPrefix, n));
  } else {
    abs = resolve(link, '..', target);
  }
  if (!isUnder(root, abs)) return undefined;
  // The target itself may be another link out of the root: its real path must stay inside too.
  try {
    const [real, realRoot] = await Promise.all([realpath(abs), realpath(root)]);
    if (!isUnder(realRoot, real)) return undefined;
  } catch {
    // Gone already (a container removed between readdir and here): the path is still the answer.
  }
  return abs;
}

/**
 * Opens `path` (under `root`) for reading when its real path stays under
 * `root` and it is a regular file (a log file berth reads on and on, so not
 * bounded here: the reader bounds each record); undefined when it is absent.
 * A path that resolves outside the root, or is not a regular file (a FIFO, a
 * device), is refused with FailedPrecondition naming it.
 */
export async function openUnder(root: string, path: string): Promise<FileHandle | undefined> {
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(path), realpath(root)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!isUnder(realRoot, real)) throw new FailedPreconditionError(`${path}: resolves outside ${root}`);
  let fh: FileHandle;
  try {
    // O_NOFOLLOW: the checked real path cannot be swapped for a symlink in between; O_NONBLOCK: a
    // FIFO put there does not hang the open.
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FailedPreconditionError(`${path}: cannot be opened safely (${(err as Error).message})`);
  }
  const st = await fh.stat().catch(() => undefined);
  if (!st?.isFile()) {
    await fh.close().catch(() => {});
    throw new FailedPreconditionError(`${path}: not a regular file`);
  }
  return fh;
}
