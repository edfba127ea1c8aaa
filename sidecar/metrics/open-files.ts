import { closeSync, existsSync, openSync, readFileSync, readSync, statfsSync } from 'node:fs';
import { isMissing } from './fsread.js';

/** statfs magic numbers of the kernel filesystems whose removed nodes fail reads (linux/magic.h). */
const PSEUDO_FS = new Set([
  0x27e0eb, // CGROUP_SUPER_MAGIC (v1)
  0x63677270, // CGROUP2_SUPER_MAGIC
  0x62656572, // SYSFS_MAGIC
]);

/** Kept files closed when an open fails with EMFILE/ENFILE (at least). */
const SHRINK_BY = 64;

/** Never keep more than this many open, whatever the descriptor limit allows. */
const MAX_KEPT = 32_768;

interface Kept {
  fd: number;
  /** The sweep generation that last read it. */
  seen: number;
}

/**
 * cgroup files kept open between scrapes and re-read in place with
 * pread(fd, 0). cgroupfs files are seq_files: a read at offset 0 runs the
 * kernel's show function again, so the content is as fresh as after a new
 * open. That costs ~2.5 µs per file instead of ~10-14 µs for
 * open+fstat+read+close (path lookup dominates), and a 1,000-container
 * scrape reads ~13,000 of them. netdata's cgroup plugin does the same.
 *
 * Bounds and lifetimes:
 * - At most 3/4 of the process's open-file soft limit, leaving at least
 *   1,024 for everything else, and never more than MAX_KEPT; beyond that
 *   files are read the ordinary way. Limits (read every 30 s) are never kept.
 *   An open that fails with EMFILE/ENFILE closes a share of the kept files
 *   and stops keeping more.
 * - `sweep()` (after every scrape) closes what that scrape did not read, so
 *   a removed container's files are closed one scrape later at most: until
 *   then its cgroup stays a zombie in the kernel, as with any open file.
 * - A removed cgroup's files fail reads with ENODEV: the fd is closed and
 *   the path opened again, which reports the file missing. On other
 *   filesystems (fixture trees) a removed file stays readable through an
 *   open fd, so there the cgroup's directory is checked to still exist, once
 *   per cgroup per scrape (the first controller's directory read: a fixture
 *   that removes one v1 controller's directory but not the others, or one
 *   file, goes unnoticed until the first directory goes).
 *
 * Only cgroup files come here: /proc/<pid>/net/dev would pin the network
 * namespace of an exited process and keep serving its last counters.
 */
export class OpenFiles {
  private readonly kept = new Map<string, Kept>();
  private limit: number;
  private generation = 0;
  /** One buffer for every read: cgroup files are small, and strings are decoded out of it. */
  private buf = Buffer.allocUnsafe(16 * 1024);
  /** Per filesystem root: true when a removed node's fd fails reads (no existence check needed). */
  private readonly pseudo = new Map<string, boolean>();
  /** Non-pseudo filesystems only: cgroups checked this scrape, and whether they exist. */
  private readonly dirs = new Map<string, boolean>();

  constructor(opts: { maxOpen?: number } = {}) {
    const soft = openFileLimit();
    const auto = Math.min(Math.floor((soft * 3) / 4), soft - 1024);
    this.limit = Math.max(0, Math.min(opts.maxOpen ?? auto, MAX_KEPT));
  }

  /** Open files right now (tests, self-checks). */
  get size(): number {
    return this.kept.size;
  }

  /**
   * Contents of `path` under `root` (the controller directory, used to tell
   * pseudo filesystems from fixture trees), or undefined when it does not
   * exist. `group` names the cgroup the file belongs to (its existence is
   * checked once per scrape on non-pseudo filesystems).
   */
  read(root: string, path: string, group: string): string | undefined {
    const k = this.kept.get(path);
    if (k !== undefined) {
      k.seen = this.generation;
      const text = this.readKept(root, path, group, k);
      if (text !== undefined) return text;
      // Removed (or replaced): forget the fd and look the path up again.
      this.kept.delete(path);
      closeQuietly(k.fd);
    }
    if (this.kept.size >= this.limit) return readPlain(path);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      if (!isOutOfFds(err)) throw err;
      // The process is at its descriptor limit (other collectors, sockets): keep no more, give some back.
      this.shrink();
      return readPlain(path);
    }
    try {
      const text = this.readFd(fd);
      this.kept.set(path, { fd, seen: this.generation });
      return text;
    } catch (err) {
      closeQuietly(fd);
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Closes the files the scrape since the last sweep did not read. */
  sweep(): void {
    for (const [path, k] of this.kept) {
      if (k.seen !== this.generation) {
        this.kept.delete(path);
        closeQuietly(k.fd);
      }
    }
    this.dirs.clear();
    this.generation++;
  }

  /** Closes a share of the kept files and stops keeping more than remain. */
  private shrink(): void {
    let n = Math.max(SHRINK_BY, Math.floor(this.kept.size / 8));
    for (const [path, k] of this.kept) {
      if (n-- <= 0) break;
      this.kept.delete(path);
      closeQuietly(k.fd);
    }
    this.limit = this.kept.size;
  }

  close(): void {
    for (const k of this.kept.values()) closeQuietly(k.fd);
    this.kept.clear();
  }

  /** undefined when the file is gone (the caller reopens by path). */
  private readKept(root: string, path: string, group: string, k: Kept): string | undefined {
    try {
      if (!this.isPseudo(root) && !this.groupExists(group, path)) return undefined;
      return this.readFd(k.fd);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  private readFd(fd: number): string {
    let n = readSync(fd, this.buf, 0, this.buf.length, 0);
    // Larger than the buffer (blkio on a host with many devices): grow it and read again from 0.
    while (n === this.buf.length) {
      this.buf = Buffer.allocUnsafe(this.buf.length * 2);
      n = readSync(fd, this.buf, 0, this.buf.length, 0);
    }
    return this.buf.toString('utf8', 0, n);
  }

  private groupExists(group: string, path: string): boolean {
    let e = this.dirs.get(group);
    if (e === undefined) {
      e = existsSync(path.slice(0, path.lastIndexOf('/')));
      this.dirs.set(group, e);
    }
    return e;
  }

  private isPseudo(root: string): boolean {
    let p = this.pseudo.get(root);
    if (p === undefined) {
      try {
        p = PSEUDO_FS.has(statfsSync(root).type);
      } catch {
        // statfs failed: not known to be a kernel fs, so a kept file is read only while its group still exists.
        p = false;
      }
      this.pseudo.set(root, p);
    }
    return p;
  }
}

function readPlain(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

function isOutOfFds(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or invalid: nothing to release.
  }
}

/** The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start). */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m?.[1] === 'unlimited') return MAX_KEPT * 2;
    const n = Number(m?.[1]);
    return Number.isFinite(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}
