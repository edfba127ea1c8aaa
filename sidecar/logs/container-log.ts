import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../runtime/base/backoff.js';
import type { Logger } from '../../runtime/base/log.js';
import type { LinePattern } from './line-pattern.js';
import { MultilineJoiner } from './multiline.js';
import type { PositionStore } from './positions.js';
import {
  type ContainerMeta,
  type FormatOptions,
  formatLine,
  type LogRecord,
  SharedFields,
} from './record.js';
import type { FlushResult, LogOutput } from './shipper.js';
import { DiskSpool, type SpoolItem } from './spool.js';
import { FileTailer, type TailLine } from './tailer.js';

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

export interface ContainerLogOptions {
  format: FormatOptions;
  tag: string;
  multiline?: { start: LinePattern; timeoutMs: number; maxLines: number };
  batchRecords: number;
  batchBytes: number;
  pollIntervalMs: number;
  memoryBufferBytes: number;
  spoolMaxBytes: number;
  retryMinMs: number;
  retryMaxMs: number;
}

/** Records read ahead of the sender, in batches, before the reader waits (the file buffers the rest). */
const READ_AHEAD_BATCHES = 3;
/** Batches on the wire at once; 2 hides the ack round trip behind the next send. */
const SEND_WINDOW = 2;

interface Queued extends SpoolItem {
  bytes: number;
  from: 'memory' | 'spool' | 'replay';
}

/**
 * Shipping of one container's log file: tail → join → format → queue
 * (memory, overflowing to the disk spool) → output → position commit.
 *
 * Two loops that never wait on each other: the reader polls the file and
 * enqueues (a slow or absent receiver never stops it: that is what keeps a
 * rotated-away file from being lost), the sender ships one batch at a time in
 * order and commits the position of a batch's last record only after the
 * receiver acknowledged it. A position never passes a line that is still being
 * joined (a partial or a multiline group), so a crash re-reads it whole.
 */
export class ContainerLog {
  readonly counters = emptyCounters();
  private readonly tailer: FileTailer;
  private readonly joiners = new Map<'stdout' | 'stderr', MultilineJoiner>();
  /** Per stream: the next record ordinal of a capped line being shipped in parts. */
  private readonly partOrdinals = new Map<'stdout' | 'stderr', number>();
  private memory: (Queued | undefined)[] = [];
  private memHead = 0;
  private memBytes = 0;
  private spool: DiskSpool;
  private replays: DiskSpool[] = [];
  private seq: number;
  private lastInode: number | undefined;
  /** Batches sent and not yet acknowledged, plus those waiting to be re-sent, in order. */
  private inflight: Queued[][] = [];
  /** The output answered `retry` last: new records go to disk, not memory. */
  private degraded = false;
  private asideSeq = 0;
  private stopping = false;
  private aborted = false;
  private draining = false;
  private wake: (() => void) | undefined;
  private readLoopDone: Promise<void> = Promise.resolve();
  private sendLoopDone: Promise<void> = Promise.resolve();
  private readonly committed: { seq: number };
  private readonly skipFile: { inode: number; fingerprint: string } | undefined;
  private watcher: FSWatcher | undefined;
  private wakeReader: (() => void) | undefined;
  /** Set while the reader pauses for room: the sender calls it when it takes a batch and room is back. */
  private wakeRoom: (() => void) | undefined;
  /** Set while the reader pauses for room: a rename in the directory may be a rotation. */
  private wakeRename: (() => void) | undefined;

  /** This container's unchanging record fields, encoded once by the writer. */
  private readonly shared: SharedFields;

  constructor(
    readonly container: ContainerMeta,
    readonly path: string,
    private readonly opts: ContainerLogOptions,
    private readonly output: LogOutput,
    private readonly positions: PositionStore,
    spoolRoot: string,
    currentFile: { inode: number; fingerprint: string } | undefined,
    private readonly logger?: Logger,
  ) {
    const pos = positions.get(path);
    this.shared = new SharedFields(container, opts.format.host);
    this.committed = { seq: pos?.seq ?? 0 };
    this.tailer = new FileTailer(path, {
      position: pos,
      maxJoinBytes: opts.format.maxLineBytes * 64,
      // One poll must fit in memory with room to spare (a record costs ~2-7× its
      // file bytes), or every poll would overflow into the spool.
      readBytes: Math.max(64 * 1024, Math.min(256 * 1024, Math.floor(opts.memoryBufferBytes / 8))),
    });
    // Spools left by earlier runs hold records of files that may be gone (rotated
    // away while the receiver was down). Records of the file still at the path
    // are re-read from it instead, so replay skips that file.
    this.skipFile = currentFile;
    const dir = join(spoolRoot, container.id);
    let maxSeq = pos?.seq ?? 0;
    let old: string[] = [];
    try {
      old = readdirSync(dir).sort();
    } catch {
      // No spool yet.
    }
    for (const name of old) {
      const s = DiskSpool.open(join(dir, name), { maxBytes: opts.spoolMaxBytes });
      maxSeq = Math.max(maxSeq, s.lastSeq ?? 0);
      this.replays.push(s);
    }
    this.seq = maxSeq;
    this.spool = DiskSpool.open(join(dir, `${Date.now().toString(36)}-${process.pid}`), {
      maxBytes: opts.spoolMaxBytes,
    });
    if (opts.multiline) {
      for (const s of ['stdout', 'stderr'] as const) {
        this.joiners.set(
          s,
          new MultilineJoiner({ ...opts.multiline, maxBytes: opts.format.maxLineBytes * 64 }),
        );
      }
    }
  }

  start(): void {
    // inotify wakes the reader as soon as conmon writes or renames, which
    // narrows the window in which a file could be rotated away unseen; the
    // poll interval stays as the fallback (watch is best effort).
    try {
      const base = basename(this.path);
      const names = new Set([base, `${base}.tmp`]);
      this.watcher = watch(dirname(this.path), (event, name) => {
        if (name !== null && !names.has(String(name))) return;
        // A new file at the path (created, or renamed over it): hold it now.
        if (event === 'rename' && name !== null && String(name) === base) this.tailer.pin();
        this.wakeReader?.();
        if (event === 'rename') this.wakeRename?.();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined;
    }
    this.readLoopDone = this.readLoop();
    this.sendLoopDone = this.sendLoop();
  }

  get spooledBytes(): number {
    return this.spool.bytes + this.replays.reduce((n, s) => n + s.bytes, 0);
  }

  /** Records read but not yet acknowledged. */
  get backlog(): number {
    return (
      this.memory.length -
      this.memHead +
      this.spool.pending +
      this.replays.reduce((n, s) => n + s.pending, 0) +
      this.inflight.reduce((n, b) => n + b.length, 0)
    );
  }

  /**
   * Stops. Graceful: the in-flight batch may finish and the position store is
   * left to its owner to flush. `drain`: first read the file to its end, emit
   * pending groups and ship everything (container removed), bounded by `timeoutMs`.
   */
  async stop(opts: { graceful: boolean; drain?: boolean; timeoutMs?: number }): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    if (opts.drain) {
      this.draining = true;
      this.wakeRoom?.();
      await this.readLoopDone;
      while (this.backlog > 0 && Date.now() < deadline) await sleep(20);
    }
    this.stopping = true;
    if (!opts.graceful) this.aborted = true;
    this.watcher?.close();
    this.wake?.();
    this.wakeReader?.();
    this.wakeRoom?.();
    if (opts.graceful) {
      await Promise.race([
        Promise.all([this.readLoopDone, this.sendLoopDone]),
        sleep(Math.max(0, deadline - Date.now())),
      ]);
    }
    await this.tailer.closeAll();
    // A clean shutdown keeps what is only in memory on disk too: if the file is
    // rotated away before the next start, the next run replays it from there.
    if (opts.graceful && !opts.drain) this.saveMemory(this.inflight.flat());
    this.spool.close();
    for (const r of this.replays) r.close();
    if (opts.drain && this.backlog === 0) {
      this.spool.destroy();
      for (const r of this.replays) r.destroy();
    }
  }

  private async readLoop(): Promise<void> {
    while (!this.stopping) {
      let more = false;
      try {
        if (await this.shouldPause()) {
          await this.pause();
          continue;
        }
        const res = await this.tailer.poll();
        if (this.aborted) return;
        this.counters.malformedLines += res.malformed;
        if (res.rotated) this.counters.rotations++;
        for (const tl of res.lines) this.onLine(tl);
        more = res.more;
        if (this.draining && !more) {
          this.flushJoiners(true);
          return;
        }
      } catch (err) {
        this.logger?.warn({ err, path: this.path }, 'log tailing failed; retrying');
      }
      this.flushJoiners(false);
      if (!more) await this.idle();
    }
  }

  /**
   * A receiver that is up but slower than the container: the file itself is
   * the buffer, so the reader waits for room in memory instead of copying
   * records to the spool (which would cost a JSON encode, a write and a read
   * back per record). It does not wait while the receiver is away (degraded),
   * while draining, or once the path names another file: a replaced file is
   * read to its end at once, so the next rotation cannot take a file away
   * unseen.
   */
  private async shouldPause(): Promise<boolean> {
    if (this.draining || this.degraded || !this.full()) return false;
    return !(await this.tailer.replaced());
  }

  /**
   * Memory is half full (the other half takes the next poll without
   * overflowing), or a poll overflowed into the spool (which drains first, FIFO).
   */
  private full(): boolean {
    return (
      this.memBytes * 2 >= this.opts.memoryBufferBytes ||
      // A few batches of read-ahead keep the sender busy; more only makes
      // every garbage collection copy more live records.
      this.memory.length - this.memHead >= READ_AHEAD_BATCHES * this.opts.batchRecords ||
      this.spool.pending > 0
    );
  }

  private pause(): Promise<void> {
    this.counters.readerPauses++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.opts.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeRoom = done;
      this.wakeRename = done;
    }).finally(() => {
      this.wakeRoom = undefined;
      this.wakeRename = undefined;
    });
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.opts.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeReader = done;
    }).finally(() => {
      this.wakeReader = undefined;
    });
  }

  private onLine(tl: TailLine): void {
    this.counters.linesRead++;
    if (this.lastInode !== undefined && tl.inode !== this.lastInode) this.flushJoiners(true);
    this.lastInode = tl.inode;
    const joiner = this.joiners.get(tl.line.stream);
    if (!joiner) {
      this.emit(tl);
      return;
    }
    if (tl.line.part) {
      // A part of a capped line is no multiline continuation: the group before it goes first.
      const g = joiner.flush();
      if (g) this.emit(g);
      this.emit(tl);
      return;
    }
    for (const g of joiner.push(tl, Date.now())) this.emit(g);
  }

  private flushJoiners(all: boolean): void {
    const now = Date.now();
    const timeout = this.opts.multiline?.timeoutMs ?? 0;
    for (const j of this.joiners.values()) {
      const since = j.pendingSince();
      if (since === undefined || (!all && now - since < timeout)) continue;
      const g = j.flush();
      if (g) this.emit(g);
    }
  }

  /** The highest offset that is safe to commit with a record ending at `end`. */
  private safeOffset(end: number, inode: number): number {
    let safe = end;
    const p = this.tailer.pendingStart();
    if (p !== undefined && this.tailer.position()?.inode === inode) safe = Math.min(safe, p);
    for (const j of this.joiners.values()) {
      const s = j.pendingStart();
      if (s !== undefined) safe = Math.min(safe, s);
    }
    return safe;
  }

  private emit(tl: TailLine): void {
    // Parts of a capped line number their records on from the part before
    // (a re-read after a crash starts at the line's start: same numbers).
    const part = tl.line.part;
    const stream = tl.line.stream;
    const first = part && part.index > 0 ? (this.partOrdinals.get(stream) ?? 1) : 1;
    // The key (the line's place in its file) only matters for a line split in parts: made on demand.
    const records = formatLine(
      tl.line,
      this.container,
      this.opts.tag,
      this.opts.format,
      () => `${tl.inode}:${tl.start}`,
      this.shared,
      first,
    );
    if (part && !part.last) this.partOrdinals.set(stream, first + records.length);
    else if (part) this.partOrdinals.delete(stream);
    const commit = this.safeOffset(tl.end, tl.inode);
    for (const record of records) this.enqueue(record, tl, commit);
  }

  private enqueue(record: LogRecord, tl: TailLine, commit: number): void {
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
    this.wake?.();
  }

  private nextBatch(): Queued[] {
    const batch: Queued[] = [];
    let bytes = 0;
    const full = () => batch.length >= this.opts.batchRecords || bytes >= this.opts.batchBytes;
    while (this.replays.length > 0 && batch.length === 0) {
      const r = this.replays[0];
      if (!r) break;
      for (const item of r.read(this.opts.batchRecords)) {
        const live = item.inode === this.skipFile?.inode && item.fingerprint === this.skipFile.fingerprint;
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
    if (this.wakeRoom && batch.length > 0 && !this.full()) this.wakeRoom();
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
   * Up to SEND_WINDOW batches are in flight (the next one is on the wire
   * while the receiver acks the previous one); results are taken strictly in
   * order, so positions are committed in order. A batch answered `retry`
   * sends it and everything after it again, in order, one batch at a time
   * until one is delivered.
   */
  private async sendLoop(): Promise<void> {
    const backoff = new Backoff({
      initialMs: this.opts.retryMinMs,
      maxMs: this.opts.retryMaxMs,
      jitter: 0.5,
    });
    const window: { batch: Queued[]; result: Promise<FlushResult> }[] = [];
    let resend: Queued[][] = [];
    const track = () => {
      this.inflight = [...window.map((w) => w.batch), ...resend];
    };
    while (!this.stopping) {
      // While retrying, probe with one batch; otherwise keep the window full.
      const limit = this.degraded ? 1 : SEND_WINDOW;
      while (window.length < limit) {
        const batch = resend.shift() ?? this.nextBatch();
        if (batch.length === 0) break;
        window.push({ batch, result: this.output.flush(batch.map((q) => q.record)) });
      }
      track();
      const head = window[0];
      if (!head) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.opts.pollIntervalMs).unref();
        });
        this.wake = undefined;
        continue;
      }
      const result = await head.result;
      if (this.aborted) return;
      if (result === 'retry') {
        // Let the rest settle: whatever they answered, they go again after the head.
        await Promise.all(window.map((w) => w.result));
        if (this.aborted) return;
        this.counters.batchesRetried++;
        resend = [...window.map((w) => w.batch), ...resend];
        window.length = 0;
        track();
        if (!this.degraded) this.enterDegraded(resend.flat());
        await sleep(backoff.next());
        continue;
      }
      window.shift();
      backoff.reset();
      this.degraded = false;
      if (result === 'ok') this.counters.recordsShipped += head.batch.length;
      else this.counters.recordsDropped += head.batch.length;
      track();
      this.acknowledge(head.batch);
    }
  }

  /**
   * The receiver is away: what is only in memory (this batch, the memory
   * queue) is copied to disk so that a crash during the outage, combined with
   * a rotation, loses nothing; from now on new records queue on disk.
   */
  private enterDegraded(batch: Queued[]): void {
    this.degraded = true;
    this.saveMemory(batch);
  }

  private saveMemory(batch: Queued[]): void {
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

  private acknowledge(batch: Queued[]): void {
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
}
