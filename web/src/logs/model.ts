/**
 * What one log pane holds: the last `capacity` entries (a Ring), the subset a
 * search keeps, the records held back while paused, and where an expanded
 * stack trace pushes the rows below it. The DOM view (view.ts) only reads it.
 * Pure code, unit-tested under Node.
 */
import { EntryBuilder, type LogEntry, type LogRecord } from './entry.js';
import { Ring } from './ring.js';
import type { Matcher } from './search.js';

/**
 * Lines a pane holds. At 5,000 lines/s that is the last 4 s of a flood, and
 * minutes of an ordinary container; a pane's memory stays a few MiB (an entry
 * is ~200 bytes plus its text). Older lines are on the agent (`berth logs`,
 * "jump to a time" reloads them).
 */
export const DEFAULT_CAPACITY = 20_000;

/** Held lines a search tests per frame: a few ms of regex, so a full pane is searched in 4 frames. */
export const SCAN_CHUNK = 5000;

export class LogModel {
  readonly ring: Ring<LogEntry>;
  /** The entries a search keeps; undefined when none is active (the ring is the view). */
  private filtered: Ring<LogEntry> | undefined;
  private matcher: Matcher | undefined;
  private readonly builder = new EntryBuilder();
  /** Records that arrived while paused, shown on resume (bounded like the ring). */
  private held: LogRecord[] = [];
  heldDropped = 0;
  paused = false;
  /** Entries whose stack trace is shown expanded, by seq. */
  readonly expanded = new Set<number>();
  private offsets: Float64Array | undefined;
  /** The next seq a new search tests (undefined when no scan is under way). */
  private scanSeq: number | undefined;
  /** Bumped whenever the view changed (the DOM view compares it). */
  version = 0;

  constructor(readonly capacity = DEFAULT_CAPACITY) {
    this.ring = new Ring(capacity);
  }

  get size(): number {
    return this.filtered ? this.filtered.length : this.ring.length;
  }

  at(i: number): LogEntry | undefined {
    return this.filtered ? this.filtered.at(i) : this.ring.at(i);
  }

  get searching(): boolean {
    return this.matcher !== undefined;
  }

  /** Takes records in arrival order; returns the seqs of entries that changed in place (grouped lines). */
  add(records: readonly LogRecord[]): Set<number> {
    const touched = new Set<number>();
    if (records.length === 0) return touched;
    if (this.paused) {
      for (const r of records) this.held.push(r);
      const over = this.held.length - this.capacity;
      if (over > 0) {
        this.held.splice(0, over);
        this.heldDropped += over;
      }
      return touched;
    }
    for (const r of records) {
      const { entry, grouped } = this.builder.add(r);
      if (grouped) {
        touched.add(entry.seq);
        continue;
      }
      this.ring.push(entry);
      // While a new search is still scanning the ring, the scan reaches this entry too.
      if (this.filtered && this.scanSeq === undefined && this.matcher?.test(entry)) this.filtered.push(entry);
    }
    if (this.filtered) {
      const first = this.ring.at(0)?.seq ?? Number.POSITIVE_INFINITY;
      this.filtered.dropWhile((e) => e.seq < first);
    }
    if (this.expanded.size > 0) {
      const first = this.ring.at(0)?.seq ?? 0;
      for (const s of this.expanded) if (s < first) this.expanded.delete(s);
    }
    this.changed();
    return touched;
  }

  /** Records waiting while paused (and how many of them fell off). */
  get heldCount(): number {
    return this.held.length;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    this.heldDropped = 0;
    this.add(held);
  }

  /**
   * Keeps only entries the matcher finds (or all, with undefined). The held
   * lines are tested SCAN_CHUNK at a time (`scan`, called once per frame by
   * the view), so a search over a full pane never blocks the page for long;
   * until the scan is done the view shows the matches found so far.
   */
  setMatcher(m: Matcher | undefined): void {
    this.matcher = m;
    if (!m) {
      this.filtered = undefined;
      this.scanSeq = undefined;
    } else {
      this.filtered = new Ring(this.capacity);
      this.scanSeq = this.ring.at(0)?.seq;
      this.scan();
    }
    this.changed();
  }

  /** Whether a search is still testing the held lines. */
  get scanning(): boolean {
    return this.scanSeq !== undefined;
  }

  /** Tests up to `budget` more held lines against the search; true when the scan is done. */
  scan(budget = SCAN_CHUNK): boolean {
    if (this.scanSeq === undefined) return true;
    const first = this.ring.at(0)?.seq;
    if (first === undefined || !this.filtered || !this.matcher) {
      this.scanSeq = undefined;
      return true;
    }
    // Seqs in the ring are consecutive (grouped lines take none), so a seq maps to an index.
    let i = Math.max(0, this.scanSeq - first);
    const end = Math.min(this.ring.length, i + budget);
    for (; i < end; i++) {
      const e = this.ring.at(i) as LogEntry;
      if (this.matcher.test(e)) this.filtered.push(e);
    }
    this.scanSeq = i >= this.ring.length ? undefined : first + i;
    this.changed();
    return this.scanSeq === undefined;
  }

  /** Drops everything (a reload from history starts afresh). */
  clear(): void {
    this.ring.clear();
    this.filtered?.clear();
    this.scanSeq = undefined;
    this.held = [];
    this.builder.reset();
    this.expanded.clear();
    this.changed();
  }

  toggleExpanded(seq: number): void {
    if (this.expanded.has(seq)) this.expanded.delete(seq);
    else this.expanded.add(seq);
    this.changed();
  }

  /** Rows an entry takes: one, plus its continuation lines when expanded. */
  rowsOf(e: LogEntry): number {
    return this.expanded.has(e.seq) ? 1 + e.more.length + (e.moreDropped > 0 ? 1 : 0) : 1;
  }

  /** The row at which view entry `i` starts (O(1) while no stack trace is expanded). */
  rowOf(i: number): number {
    if (this.expanded.size === 0) return i;
    return this.prefix()[i] ?? 0;
  }

  /** Total rows of the view. */
  get rows(): number {
    if (this.expanded.size === 0) return this.size;
    return this.prefix()[this.size] ?? 0;
  }

  /** The view entry shown at `row` (binary search over the row offsets). */
  indexAtRow(row: number): number {
    if (this.expanded.size === 0) return Math.max(0, Math.min(this.size - 1, Math.floor(row)));
    const p = this.prefix();
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((p[mid] as number) <= row) lo = mid;
      else hi = mid - 1;
    }
    return Math.max(0, lo);
  }

  /** The first view entry at or after `ms`, or -1 when every held entry is older. */
  indexAtTime(ms: number): number {
    // Merged panes interleave containers, so times are only nearly sorted: a
    // binary search lands close, then steps back over equal-or-later neighbours.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.at(mid) as LogEntry).ms < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo >= this.size ? -1 : lo;
  }

  /** The shown entries, oldest first (what a download holds). */
  shown(): LogEntry[] {
    return this.filtered ? this.filtered.toArray() : this.ring.toArray();
  }

  private prefix(): Float64Array {
    if (!this.offsets || this.offsets.length !== this.size + 1) {
      const p = new Float64Array(this.size + 1);
      for (let i = 0; i < this.size; i++) p[i + 1] = (p[i] as number) + this.rowsOf(this.at(i) as LogEntry);
      this.offsets = p;
    }
    return this.offsets;
  }

  private changed(): void {
    this.offsets = undefined;
    this.version++;
  }
}
