import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../runtime/base/atomic-file.js';
import { InternalError } from '../../runtime/base/errors.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import { checkVersion, stampVersion } from '../../runtime/base/versioned.js';

/**
 * Where shipping of each log file stands: the file's inode and the byte
 * offset up to which the receiver has acknowledged every record, plus the
 * sequence number of the last acknowledged record (the spool uses it to
 * skip what was already delivered).
 *
 * The pipeline commits a position only after an ack, so a crash re-reads
 * from the last acked point: at-least-once, duplicates possible, no loss.
 * Writes are coalesced (at most one per `flushMs`) and atomic (temp file,
 * fsync, rename); a crash loses at most the last `flushMs` of commits, which
 * only means more duplicates.
 */
export interface Position {
  inode: number;
  offset: number;
  /** Sequence number of the last acknowledged record of this file. */
  seq: number;
  /** Hash of the file's first entry (inode numbers are reused after an unlink). */
  fingerprint?: string;
}

/** The positions file's format (`schemaVersion`); one without it is version 1. */
export const POSITIONS_VERSION = 1;

export interface PositionStore {
  get(path: string): Position | undefined;
  commit(path: string, pos: Position): void;
  remove(path: string): void;
  /** Writes pending changes now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class FilePositionStore implements PositionStore {
  private positions = new Map<string, Position>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  /** One write at a time, in order; a failed one does not stop the next. */
  private readonly writes = new Mutex();
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly flushMs: number,
  ) {}

  static async open(file: string, opts: { flushMs?: number } = {}): Promise<FilePositionStore> {
    const store = new FilePositionStore(file, opts.flushMs ?? 200);
    await mkdir(dirname(file), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new InternalError(`log positions: cannot read ${file}`, { cause: err });
      }
    }
    if (text !== undefined && text.trim() !== '') {
      // A corrupt store is not fatal: shipping restarts from each file's start (duplicates, no loss).
      let parsed: { files?: Record<string, Position> } | undefined;
      try {
        parsed = JSON.parse(text) as { files?: Record<string, Position> };
      } catch {
        // Unreadable (cut short by a crash before atomic writes, or edited): start over, every file is read
        // from its start again (duplicates, never losses: at-least-once).
        parsed = undefined;
      }
      // A newer store is refused (log shipping does not start, the file is kept): starting over
      // would re-ship every log and overwrite the newer release's positions.
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        checkVersion(parsed, { file: `log positions ${file}`, current: POSITIONS_VERSION });
      try {
        for (const [p, v] of Object.entries(parsed?.files ?? {})) {
          if (typeof v?.inode === 'number' && typeof v.offset === 'number') {
            store.positions.set(p, {
              inode: v.inode,
              offset: v.offset,
              seq: Number(v.seq) || 0,
              ...(typeof v.fingerprint === 'string' ? { fingerprint: v.fingerprint } : {}),
            });
          }
        }
      } catch {
        // A shape the loop cannot read (edited): start over as for unreadable JSON above.
        store.positions.clear();
      }
    }
    return store;
  }

  get(path: string): Position | undefined {
    const p = this.positions.get(path);
    return p ? { ...p } : undefined;
  }

  commit(path: string, pos: Position): void {
    this.positions.set(path, { ...pos });
    this.schedule();
  }

  remove(path: string): void {
    if (this.positions.delete(path)) this.schedule();
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const snapshot = JSON.stringify(
      stampVersion({ version: 1, files: Object.fromEntries(this.positions) }, POSITIONS_VERSION),
    );
    this.writing = this.writes.run(() => this.write(snapshot));
    return this.writing;
  }

  /** Writes what is pending and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  /** Drops pending writes, as a crash would (tests of at-least-once use it). */
  abandon(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    this.closed = true;
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => {
        // The next commit schedules another attempt.
        this.dirty = true;
      });
    }, this.flushMs);
  }

  private async write(text: string): Promise<void> {
    await writeFileAtomic(this.file, text, { mode: 0o600 });
  }
}
