import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../runtime/base/log.js';
import type { LinePattern } from './line-pattern.js';
import type { LogCounters, LogQueue } from './log-queue.js';
import { MultilineJoiner } from './multiline.js';
import type { Position } from './positions.js';
import { type ContainerMeta, type FormatOptions, formatLine, SharedFields } from './record.js';
import { FileTailer, type TailLine } from './tailer.js';

export interface LogReaderOptions {
  format: FormatOptions;
  tag: string;
  multiline?: { start: LinePattern; timeoutMs: number; maxLines: number };
  pollIntervalMs: number;
  memoryBufferBytes: number;
  /** The log file's format (tailer.ts); k8s-file when absent. */
  logFormat?: 'k8s-file' | 'json-file' | undefined;
  /** The old file a rotation keeps (`<path>.1`), read first after a restart (TailerOptions.rotatedPath). */
  rotatedPath?: string;
  /** Told the offset read up to after each read (berth's log rotation, pipeline.ts). */
  onRead?: (containerId: string, offset: number) => void;
}

/**
 * The reading side of one container's log: tail the file (woken by inotify,
 * polled as a fallback) → join partial lines and multiline groups → format
 * records → queue them. It never waits on the receiver: a slow one only makes
 * it wait for room while the file still buffers; an absent one (degraded)
 * sends records to the disk spool instead. A record's commit offset never
 * passes a line still being joined, so a crash re-reads it whole.
 */
export class LogReader {
  private readonly tailer: FileTailer;
  private readonly joiners = new Map<'stdout' | 'stderr', MultilineJoiner>();
  /** Per stream: the next record ordinal of a capped line being shipped in parts. */
  private readonly partOrdinals = new Map<'stdout' | 'stderr', number>();
  private lastInode: number | undefined;
  /** This container's unchanging record fields, encoded once by the writer. */
  private readonly shared: SharedFields;
  private watcher: FSWatcher | undefined;
  private wakeReader: (() => void) | undefined;
  /** Set while the reader pauses for room: a rename in the directory may be a rotation. */
  private wakeRename: (() => void) | undefined;
  private stopping = false;
  private aborted = false;
  private draining = false;
  /** Resolves when the read loop ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly container: ContainerMeta,
    private readonly path: string,
    private readonly opts: LogReaderOptions,
    position: Position | undefined,
    private readonly queue: LogQueue,
    private readonly counters: LogCounters,
    private readonly logger?: Logger,
  ) {
    this.shared = new SharedFields(container, opts.format.host);
    this.tailer = new FileTailer(path, {
      position,
      maxJoinBytes: opts.format.maxLineBytes * 64,
      // One poll must fit in memory with room to spare (a record costs ~2-7× its
      // file bytes), or every poll would overflow into the spool.
      readBytes: Math.max(64 * 1024, Math.min(256 * 1024, Math.floor(opts.memoryBufferBytes / 8))),
      ...(opts.logFormat ? { format: opts.logFormat } : {}),
      ...(opts.rotatedPath ? { rotatedPath: opts.rotatedPath } : {}),
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
      this.watcher.on('error', (err) => {
        // The directory went away or inotify gave up: polling goes on alone.
        this.logger?.debug({ err, path: this.path }, 'log directory watch ended; polling');
        this.watcher?.close();
      });
    } catch (err) {
      // No inotify watch (limit reached, directory not there yet): polling alone.
      this.logger?.debug({ err, path: this.path }, 'cannot watch the log directory; polling');
      this.watcher = undefined;
    }
    this.done = this.readLoop();
  }

  /** Reads the file to its end, emits pending groups, then ends (the container was removed). */
  drain(): Promise<void> {
    this.draining = true;
    this.queue.onRoom?.();
    return this.done;
  }

  /** Ends the loop; `abort` (a simulated crash) drops what a poll in progress read. */
  stop(abort: boolean): void {
    this.stopping = true;
    if (abort) this.aborted = true;
    this.watcher?.close();
    this.wakeReader?.();
    this.queue.onRoom?.();
  }

  /** The inode of the file being read now (undefined before the first open). */
  readingInode(): number | undefined {
    return this.tailer.position()?.inode;
  }

  /** Closes the files the tailer holds (after stop). */
  closeFiles(): Promise<void> {
    return this.tailer.closeAll();
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
        const at = this.opts.onRead ? this.tailer.position() : undefined;
        if (at) this.opts.onRead?.(this.container.id, at.offset);
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
    if (this.draining || this.queue.degraded || !this.queue.full()) return false;
    return !(await this.tailer.replaced());
  }

  private pause(): Promise<void> {
    this.counters.readerPauses++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.opts.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.queue.onRoom = done;
      this.wakeRename = done;
    }).finally(() => {
      this.queue.onRoom = undefined;
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
    for (const record of records) this.queue.enqueue(record, tl, commit);
  }
}
