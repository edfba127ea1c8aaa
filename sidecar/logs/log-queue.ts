import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../runtime/base/log.js';
import type { PositionStore } from './positions.js';
import type { LogRecord } from './record.js';
import { DiskSpool, type SpoolItem } from './spool.js';
import type { TailLine } from './tailer.js';

/** Counters of one container's shipping (summed per output by the pipeline). */
export interface LogCounters {
  /** Log lines read from the file (after joining partials). */
  linesRead: number;
  /** Records acknowledged by a receiver. */
  recordsShipped: number;
  /** Batches answered `retry` (each re-send counts). */
  batchesRetried: number;
  /** Records dropped: spool overflow plus batches answered `error`. */
  recordsDropped: number;
  /** Records written to the disk spool. */
  recordsSpooled: number;
  /** Lines that were not k8s-file entries. */
  malformedLines: number;
  /** File replacements and truncations seen. */
  rotations: number;
  /** Times the reader waited for the sender (receiver slower than the container; the file buffers). */
  readerPauses: number;
}

export function emptyCounters(): LogCounters {
  return {
    linesRead: 0,
    recordsShipped: 0,
    batchesRetried: 0,
    recordsDropped: 0,
    recordsSpooled: 0,
    malformedLines: 0,
    rotations: 0,
    readerPauses: 0,
  };
}

export interface LogQueueOptions {
  batchRecords: number;
  batchBytes: number;
  memoryBufferBytes: number;
  spoolMaxBytes: number;
}

/** Records read ahead of the sender, in batches, before the reader waits (the file buffers the rest). */
const READ_AHEAD_BATCHES = 3;

/** A record on its way: where it came from and what its acknowledgement commits. */
export interface Queued extends SpoolItem {
  bytes: number;
  from: 'memory' | 'spool' | 'replay';
}

/**
 * The queue between a container's log reader and its sender: records in
 * memory, overflowing to a disk spool (FIFO: once anything waits on disk,
 * newer records queue behind it there), and the spools earlier runs left
 * (replayed first). An acknowledged batch commits its last record's file
 * position and frees the spools up to it.
 */
export class LogQueue {
  /** The output answered `retry` last: new records go to disk, not memory. */
  degraded = false;
  /** Set while the reader waits for room; called when a batch taken leaves room again. */
  onRoom: (() => void) | undefined;
  private memory: (Queued | undefined)[] = [];
  private memHead = 0;
  private memBytes = 0;
  private readonly spool: DiskSpool;
  private readonly replays: DiskSpool[] = [];
  private seq: number;
  private asideSeq = 0;
  private readonly committed: { seq: number };

  constructor(
    private readonly path: string,
    spoolDir: string,
    private readonly opts: LogQueueOptions,
    private readonly positions: PositionStore,
    /** The files the reader re-reads (the one at the path, and `.1` when kept): replay skips their records. */
    private readonly skipFiles: readonly { inode: number; fingerprint: string }[],
    private readonly counters: LogCounters,
    /** Called when a record is queued (the sender wakes). */
    private readonly onRecord: () => void,
    private readonly logger?: Logger,
  ) {
    const pos = positions.get(path);
    this.committed = { seq: pos?.seq ?? 0 };
    // Spools left by earlier runs hold records of files that may be gone (rotated
    // away while the receiver was down).
    let maxSeq = pos?.seq ?? 0;
    let old: string[] = [];
    try {
      old = readdirSync(spoolDir).sort();
    } catch {
      // No spool directory yet: nothing to replay.
    }
    for (const name of old) {
      const s = DiskSpool.open(join(spoolDir, name), { maxBytes: opts.spoolMaxBytes });
      maxSeq = Math.max(maxSeq, s.lastSeq ?? 0);
      this.replays.push(s);
    }
    this.seq = maxSeq;
    this.spool = DiskSpool.open(join(spoolDir, `${Date.now().toString(36)}-${process.pid}`), {
      maxBytes: opts.spoolMaxBytes,
    });
  }

  get spooledBytes(): number {
    return this.spool.bytes + this.replays.reduce((n, s) => n + s.bytes, 0);
  }

  /** Records queued and not yet taken by the sender. */
  get pending(): number {
    return (
      this.memory.length - this.memHead + this.spool.pending + this.replays.reduce((n, s) => n + s.pending, 0)
    );
  }

  /**
   * Memory is half full (the other half takes the next poll without
   * overflowing), or a poll overflowed into the spool (which drains first, FIFO).
   */
  full(): boolean {
    return (
      this.memBytes * 2 >= this.opts.memoryBufferBytes ||
      // A few batches of read-ahead keep the sender busy; more only makes
      // every garbage collection copy more live records.
      this.memory.length - this.memHead >= READ_AHEAD_BATCHES * this.opts.batchRecords ||
      this.spool.pending > 0
    );
  }

  enqueue(record: LogRecord, tl: TailLine, commit: number): void {
    const log = record.fields.log;
    const bytes = (typeof log === 'string' ? log.length : 0) + 256;
    // Built whole in one literal: the hot path allocates one object per record.
    const item: Queued = {
      seq: ++this.seq,
      inode: tl.inode,
      fingerprint: tl.fingerprint,
      commit,
      record,
      bytes,
      from: 'memory',
    };
    // FIFO: once anything waits in the spool, newer records queue behind it there.
    if (this.degraded || this.spool.pending > 0 || this.memBytes + bytes > this.opts.memoryBufferBytes) {
      const droppedBefore = this.spool.dropped;
      try {
        const { seq, inode, fingerprint } = item;
        this.spool.append({ seq, inode, fingerprint, commit, record });
        this.counters.recordsSpooled++;
      } catch (err) {
        // Disk full or gone: drop and count rather than stall the reader.
        this.counters.recordsDropped++;
        if (this.counters.recordsDropped === 1 || this.counters.recordsDropped % 10_000 === 0) {
          this.logger?.warn({ err, path: this.path }, 'log spool write failed; records dropped');
        }
      }
      this.counters.recordsDropped += this.spool.dropped - droppedBefore;
    } else {
      this.memory.push(item);
      this.memBytes += bytes;
    }
    this.onRecord();
  }

  /** The next batch to send: replayed records first, then memory, then the spool. */
  nextBatch(): Queued[] {
    const batch: Queued[] = [];
    let bytes = 0;
    const full = () => batch.length >= this.opts.batchRecords || bytes >= this.opts.batchBytes;
    while (this.replays.length > 0 && batch.length === 0) {
      const r = this.replays[0];
      if (!r) break;
      for (const item of r.read(this.opts.batchRecords)) {
        const live = this.skipFiles.some((f) => item.inode === f.inode && item.fingerprint === f.fingerprint);
        if (item.seq <= this.committed.seq || live) continue;
        batch.push({ ...item, bytes: 0, from: 'replay' });
      }
      if (batch.length > 0) return batch;
      if (r.pending === 0) {
        r.destroy();
        this.replays.shift();
      }
    }
    while (this.memHead < this.memory.length && !full()) {
      const item = this.memory[this.memHead];
      if (!item) break;
      this.memory[this.memHead] = undefined;
      this.memHead++;
      this.memBytes -= item.bytes;
      batch.push(item);
      bytes += item.bytes;
    }
    // Room again: the reader refills while this batch is in flight.
    if (this.onRoom && batch.length > 0 && !this.full()) this.onRoom();
    if (this.memHead > 4096 && this.memHead * 2 > this.memory.length) {
      this.memory = this.memory.slice(this.memHead);
      this.memHead = 0;
    }
    if (batch.length > 0) return batch;
    for (const item of this.spool.read(this.opts.batchRecords))
      batch.push({ ...item, bytes: 0, from: 'spool' });
    return batch;
  }

  /**
   * The receiver is away: what is only in memory (this batch, the memory
   * queue) is copied to disk so that a crash during the outage, combined with
   * a rotation, loses nothing; from now on new records queue on disk.
   */
  enterDegraded(batch: Queued[]): void {
    this.degraded = true;
    this.saveMemory(batch);
  }

  /** Copies the records only in memory (of `batch` and the memory queue) to the spool. */
  saveMemory(batch: Queued[]): void {
    const inMemory = [...batch, ...this.memory.slice(this.memHead)].filter(
      (q): q is Queued => q !== undefined && q.from === 'memory' && q.seq > this.asideSeq,
    );
    const items = inMemory.map(({ seq, inode, fingerprint, commit, record }) => ({
      seq,
      inode,
      fingerprint,
      commit,
      record,
    }));
    try {
      this.spool.writeAside(items);
      const last = items[items.length - 1];
      if (last) this.asideSeq = last.seq;
    } catch (err) {
      this.logger?.warn({ err, path: this.path }, 'cannot copy buffered log records to the spool');
    }
  }

  /** The receiver acknowledged `batch`: its last record's position is committed, the spools freed up to it. */
  acknowledge(batch: Queued[]): void {
    const last = batch[batch.length - 1];
    if (!last) return;
    this.committed.seq = last.seq;
    this.positions.commit(this.path, {
      inode: last.inode,
      offset: last.commit,
      seq: last.seq,
      fingerprint: last.fingerprint,
    });
    this.spool.ack(last.seq);
    const replay = this.replays[0];
    if (replay && batch.some((q) => q.from === 'replay')) {
      replay.ack(last.seq);
      if (replay.pending === 0) {
        replay.destroy();
        this.replays.shift();
      }
    }
  }

  /** Closes the spools; `destroy` also removes them (everything was shipped). */
  close(destroy: boolean): void {
    this.spool.close();
    for (const r of this.replays) r.close();
    if (destroy) {
      this.spool.destroy();
      for (const r of this.replays) r.destroy();
    }
  }
}
