import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { LogRecord } from './record.js';

/**
 * A bounded on-disk FIFO of records, used while the receiver is down or slower
 * than the container: the tailer keeps reading (so a rotated-away file is
 * drained before its inode disappears) and records wait here instead of in
 * memory.
 *
 * Segment files (`<first seq>.seg`, one JSON item a line) are appended to and
 * deleted whole once every item in them is acknowledged. Past `maxBytes` the
 * oldest segment is dropped and its unread items counted in `dropped`:
 * appending never blocks and never fails because the receiver is away.
 *
 * Writes are synchronous on purpose: they are small local appends, and doing
 * them inline keeps the FIFO order trivially right.
 */
export interface SpoolItem {
  /** Per-container sequence number, increasing in read order. */
  seq: number;
  inode: number;
  fingerprint: string;
  /** File offset that is safe to commit once this item is acknowledged. */
  commit: number;
  record: LogRecord;
}

interface Segment {
  file: string;
  firstSeq: number;
  lastSeq: number;
  bytes: number;
  count: number;
  /** Parsed items while the segment is being read. */
  items?: SpoolItem[];
}

export interface SpoolOptions {
  maxBytes: number;
  segmentBytes?: number;
}

export class DiskSpool {
  private segments: Segment[] = [];
  private writeFd: number | undefined;
  /** Index into segments[0..] and into that segment's items of the next unread item. */
  private readSeg = 0;
  private readIdx = 0;
  private totalBytes = 0;
  private unread = 0;
  private droppedCount = 0;
  private readonly segmentBytes: number;
  /** Copies of records held in memory, kept only for a restart (see writeAside). */
  private aside: { file: string; lastSeq: number; bytes: number }[] = [];

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    segmentBytes: number,
  ) {
    // At least four segments fit under the cap, so dropping one frees a useful share.
    this.segmentBytes = Math.max(4096, Math.min(segmentBytes, Math.floor(maxBytes / 4)));
  }

  /** Opens (creating) a spool directory; items left by a previous run are readable again. */
  static open(dir: string, opts: SpoolOptions): DiskSpool {
    const s = new DiskSpool(dir, opts.maxBytes, opts.segmentBytes ?? 1024 * 1024);
    mkdirSync(dir, { recursive: true });
    const files = readdirSync(dir)
      .filter((f) => /^\d+\.seg$/.test(f))
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    for (const f of files) {
      const file = join(dir, f);
      const items = parseSegment(readFileSync(file, 'utf8'));
      const first = items[0];
      const last = items[items.length - 1];
      if (!first || !last) {
        unlinkSync(file);
        continue;
      }
      const bytes = statSync(file).size;
      s.segments.push({ file, firstSeq: first.seq, lastSeq: last.seq, bytes, count: items.length });
      s.totalBytes += bytes;
      s.unread += items.length;
    }
    return s;
  }

  /** Bytes on disk. */
  get bytes(): number {
    return this.totalBytes + this.aside.reduce((n, a) => n + a.bytes, 0);
  }

  /** Items appended and not yet read. */
  get pending(): number {
    return this.unread;
  }

  /** Items dropped to stay under the byte cap. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Highest sequence number held, or undefined when empty. */
  get lastSeq(): number | undefined {
    return this.segments[this.segments.length - 1]?.lastSeq;
  }

  append(item: SpoolItem): void {
    const line = `${JSON.stringify(item)}\n`;
    const size = Buffer.byteLength(line);
    let seg = this.segments[this.segments.length - 1];
    if (!seg || this.writeFd === undefined || seg.bytes + size > this.segmentBytes || seg.items) {
      this.closeWriter();
      seg = {
        file: join(this.dir, `${item.seq}.seg`),
        firstSeq: item.seq,
        lastSeq: item.seq,
        bytes: 0,
        count: 0,
      };
      this.segments.push(seg);
      this.writeFd = openSync(seg.file, 'a', 0o600);
    }
    writeSync(this.writeFd, line);
    seg.bytes += size;
    seg.count++;
    seg.lastSeq = item.seq;
    this.totalBytes += size;
    this.unread++;
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) this.dropOldest();
  }

  /**
   * Writes records that live in memory (the in-flight batch and the memory
   * queue) to a segment this process never reads back: if the agent crashes
   * before they are acknowledged and their file was rotated away meanwhile,
   * the next run replays them from here. Their sequence numbers are lower than
   * anything appended later, so a reopened spool reads them first.
   */
  writeAside(items: readonly SpoolItem[]): void {
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    const file = join(this.dir, `${first.seq}.seg`);
    const text = items.map((i) => `${JSON.stringify(i)}\n`).join('');
    const fd = openSync(file, 'w', 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    this.aside.push({ file, lastSeq: last.seq, bytes: Buffer.byteLength(text) });
  }

  /** Takes up to `max` unread items (oldest first); they stay on disk until `ack`. */
  read(max: number): SpoolItem[] {
    const out: SpoolItem[] = [];
    while (out.length < max) {
      const seg = this.segments[this.readSeg];
      if (!seg) break;
      if (!seg.items) {
        // The segment being written is closed before reading so its items are complete.
        if (this.readSeg === this.segments.length - 1) this.closeWriter();
        seg.items = parseSegment(readFileSync(seg.file, 'utf8'));
      }
      const item = seg.items[this.readIdx];
      if (!item) {
        this.readSeg++;
        this.readIdx = 0;
        continue;
      }
      out.push(item);
      this.readIdx++;
      this.unread--;
    }
    return out;
  }

  /** Every item up to `seq` is delivered: delete the segments that hold only those. */
  ack(seq: number): void {
    this.aside = this.aside.filter((a) => {
      if (a.lastSeq > seq) return true;
      rmSync(a.file, { force: true });
      return false;
    });
    for (;;) {
      const seg = this.segments[0];
      if (!seg || seg.lastSeq > seq || this.readSeg === 0) break;
      this.removeFirst();
    }
  }

  close(): void {
    this.closeWriter();
  }

  /** Removes the spool directory (container removed and drained). */
  destroy(): void {
    this.closeWriter();
    rmSync(this.dir, { recursive: true, force: true });
    this.segments = [];
  }

  private dropOldest(): void {
    const seg = this.segments[0];
    if (!seg) return;
    let unreadHere = seg.count;
    if (this.readSeg > 0) unreadHere = 0;
    else if (seg.items) unreadHere = seg.items.length - this.readIdx;
    this.droppedCount += unreadHere;
    this.unread -= unreadHere;
    if (this.readSeg === 0) this.readIdx = 0;
    else this.readSeg--;
    this.removeFile(seg);
    this.segments.shift();
  }

  private removeFirst(): void {
    const seg = this.segments.shift();
    if (!seg) return;
    this.readSeg--;
    this.removeFile(seg);
  }

  private removeFile(seg: Segment): void {
    if (seg === this.segments[this.segments.length - 1]) this.closeWriter();
    this.totalBytes -= seg.bytes;
    try {
      unlinkSync(seg.file);
    } catch {
      // Already gone: nothing to free.
    }
  }

  private closeWriter(): void {
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    this.writeFd = undefined;
  }
}

function parseSegment(text: string): SpoolItem[] {
  const out: SpoolItem[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as SpoolItem);
    } catch {
      // A line cut short by a crash: the item is re-read from the log file if it is still there.
    }
  }
  return out;
}
