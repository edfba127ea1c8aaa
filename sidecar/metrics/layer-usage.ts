import { lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { isMissing } from './fsread.js';

/**
 * How often a writable layer is measured again: cAdvisor's fs handler
 * period for Docker containers (`common.DefaultPeriod`, one minute,
 * container/common/fsHandler.go). Walking a layer costs an lstat per file,
 * so it is never done on the scrape path: a scrape serves the last figures.
 */
export const FS_REFRESH_MS = 60_000;
/** A layer that fails to measure backs off to at most this many periods (cAdvisor's maxBackoffFactor). */
export const FS_MAX_BACKOFF = 20;
/** Entries lstat'ed before the walk yields to the event loop (~1–2 ms of work). */
const WALK_BATCH = 512;
/** statfs(2)'s unit for st_blocks. */
const STAT_BLOCK_SIZE = 512;

/** What `du` of a writable layer finds, as cAdvisor's fs.GetDirUsage counts it. */
export interface LayerFigures {
  /** st_blocks × 512 of every entry, hard links once. */
  bytes: number;
  /** Entries (inodes) in the layer, hard links once. */
  inodes: number;
}

/** Undoes mountinfo's octal escapes (`\040` for a space, `\054` for a comma in options). */
function unescapeMount(s: string): string {
  return s.includes('\\')
    ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
    : s;
}

/**
 * The overlay upper directory of a process's root mount, from its
 * `<proc>/<pid>/mountinfo`: the last mount on `/` (the top of the stack),
 * when it is an overlay with an `upperdir=` option. The path is the one
 * given to mount(2), in the mounter's (the host's) namespace. Undefined for a
 * root that is not an overlay (nothing berth could call a writable layer).
 */
export function writableLayerDir(mountinfo: string): string | undefined {
  let found: string | undefined;
  for (const line of mountinfo.split('\n')) {
    // id parent maj:min root mountpoint opts [optional…] - fstype source superopts
    const fields = line.split(' ');
    if (fields[4] !== '/') continue;
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    if (fields[dash + 1] !== 'overlay') {
      found = undefined;
      continue;
    }
    found = undefined;
    for (const opt of (fields[dash + 3] ?? '').split(',')) {
      if (opt.startsWith('upperdir=')) found = unescapeMount(opt.slice('upperdir='.length));
    }
  }
  return found;
}

/**
 * cAdvisor's fs.GetDirUsage: every entry under `dir` on dir's own device
 * (other mounts are not descended), st_blocks × 512 bytes, entries with more
 * than one link counted once; entries that vanish during the walk are
 * skipped. Synchronous lstats in batches with a yield between them: an lstat
 * is ~2 µs synchronously and ~20 µs through the thread pool, and the batches
 * keep any one block of the event loop to a millisecond or two.
 */
export async function dirUsage(dir: string): Promise<LayerFigures> {
  const root = lstatSync(dir, { bigint: true });
  const dev = root.dev;
  const seen = new Set<bigint>();
  let bytes = 0;
  let inodes = 0;
  let batch = 0;
  const count = (s: { nlink: bigint; ino: bigint; blocks: bigint }): void => {
    if (s.nlink > 1n) {
      if (seen.has(s.ino)) return;
      seen.add(s.ino);
    }
    bytes += Number(s.blocks) * STAT_BLOCK_SIZE;
    inodes += 1;
  };
  count(root);
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    let handle: ReturnType<typeof opendirSync>;
    try {
      handle = opendirSync(d);
    } catch (err) {
      if (isMissing(err)) continue;
      throw err;
    }
    try {
      for (let e = handle.readSync(); e !== null; e = handle.readSync()) {
        const path = join(d, e.name);
        let s: ReturnType<typeof lstatSync> & { dev: bigint; nlink: bigint; ino: bigint; blocks: bigint };
        try {
          s = lstatSync(path, { bigint: true });
        } catch (err) {
          if (isMissing(err)) continue;
          throw err;
        }
        if (s.dev !== dev) continue;
        count(s);
        if (s.isDirectory()) stack.push(path);
        if (++batch >= WALK_BATCH) {
          batch = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      handle.closeSync();
    }
  }
  return { bytes, inodes };
}

interface Entry {
  figures?: LayerFigures;
  /** When it was last measured (or failed), clock ms. */
  at: number;
  periodMs: number;
  queued: boolean;
  /** When a scrape last asked for it. */
  asked: number;
}

/**
 * The writable layers' sizes, measured in the background: `get` returns the
 * last figures at once and queues a layer whose figures are older than the
 * period; one walk runs at a time (so the work is bounded however many
 * containers there are), and a layer that fails backs off ×2 up to
 * FS_MAX_BACKOFF periods, as cAdvisor's fs handler does. Layers nobody asked
 * for during a period are forgotten.
 */
export class LayerUsage {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: string[] = [];
  private walking = false;
  private lastSweep: number;
  private readonly periodMs: number;
  private readonly clock: () => number;
  private readonly measure: (dir: string) => Promise<LayerFigures>;
  /** Settles when the queue is empty (tests). */
  private idle: Promise<void> = Promise.resolve();

  constructor(
    opts: { periodMs?: number; now?: () => number; measure?: (dir: string) => Promise<LayerFigures> } = {},
  ) {
    this.periodMs = opts.periodMs ?? FS_REFRESH_MS;
    this.clock = opts.now ?? (() => performance.now());
    this.measure = opts.measure ?? dirUsage;
    this.lastSweep = this.clock();
  }

  /** The last figures of `dir` (undefined until its first walk ends); queues a walk when they are due. */
  get(dir: string): LayerFigures | undefined {
    const now = this.clock();
    this.sweep(now);
    let e = this.entries.get(dir);
    if (e === undefined) {
      e = { at: Number.NEGATIVE_INFINITY, periodMs: this.periodMs, queued: false, asked: now };
      this.entries.set(dir, e);
    }
    e.asked = now;
    if (!e.queued && now - e.at >= e.periodMs) {
      e.queued = true;
      this.queue.push(dir);
      if (!this.walking) this.idle = this.drain();
    }
    return e.figures;
  }

  /** Resolves once every queued walk has ended. */
  settled(): Promise<void> {
    return this.idle;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.periodMs) return;
    for (const [dir, e] of this.entries)
      if (now - e.asked > this.periodMs && !e.queued) this.entries.delete(dir);
    this.lastSweep = now;
  }

  private async drain(): Promise<void> {
    this.walking = true;
    try {
      for (let dir = this.queue.shift(); dir !== undefined; dir = this.queue.shift()) {
        const e = this.entries.get(dir);
        if (e === undefined) continue;
        try {
          e.figures = await this.measure(dir);
          e.periodMs = this.periodMs;
        } catch {
          // Gone (the container was removed) or unreadable: keep the last figures, retry later.
          e.periodMs = Math.min(e.periodMs * 2, this.periodMs * FS_MAX_BACKOFF);
        }
        e.at = this.clock();
        e.queued = false;
        // Between layers too: a thousand small layers would otherwise be walked in one go.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.walking = false;
    }
  }
}
