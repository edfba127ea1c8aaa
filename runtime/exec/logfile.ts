import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { InvalidArgumentError, NotFoundError } from '../../src/common/errors.js';
import type { LogPort } from '../containers/ports.js';
import type { LogLine, LogQuery } from '../runtime.js';
import { LineAssembler, parseK8sRecord, parseTimeBound } from './k8s-format.js';

const CHUNK = 64 << 10;

export interface K8sLogReaderOptions {
  /** While following, how often to look for new data when no fs event arrived (ms). */
  pollIntervalMs?: number;
}

/**
 * Reads conmon's k8s-file logs (see k8s-format.ts).
 *
 * Following: keeps reading as the file grows and survives conmon's rotation
 * (with --log-size-max conmon replaces the file by a new one at the same path;
 * the old inode is drained to its end before switching). Following never ends
 * on its own, because the file cannot say that the container exited: callers
 * end it with `query.signal`. On abort the reader does one last read to EOF
 * (and flushes an unterminated line) before ending, so aborting right after
 * the container's exit was observed loses nothing. A consumer that stops
 * iterating (break/return) ends it at once instead.
 */
export class K8sLogReader implements LogPort {
  private readonly pollMs: number;

  constructor(opts: K8sLogReaderOptions = {}) {
    this.pollMs = opts.pollIntervalMs ?? 250;
  }

  read(logPath: string, query: LogQuery): AsyncIterable<LogLine> {
    const filter = makeFilter(query);
    if (query.tail !== undefined && (!Number.isInteger(query.tail) || query.tail < 0)) {
      throw new InvalidArgumentError(`tail: ${query.tail} is not a non-negative integer`, { field: 'tail' });
    }
    return this.generate(logPath, query, filter);
  }

  private async *generate(logPath: string, query: LogQuery, filter: Filter): AsyncGenerator<LogLine> {
    const signal = query.signal;
    let file = await openLog(logPath);
    let ino = (await file.stat()).ino;
    let pos = 0;
    let carry: Buffer = Buffer.alloc(0);
    const asm = new LineAssembler();
    const tail = query.tail;
    const ring: LogLine[] = [];

    /** Reads from `pos` to EOF of the open file, returning the lines that pass the filter. */
    const drain = async (): Promise<LogLine[]> => {
      const out: LogLine[] = [];
      const buf = Buffer.alloc(CHUNK);
      for (;;) {
        const { bytesRead } = await file.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        let data =
          carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        let nl = data.indexOf(0x0a);
        while (nl >= 0) {
          const rec = parseK8sRecord(data.subarray(0, nl).toString('utf8'));
          if (rec) {
            const line = asm.push(rec);
            if (line && filter.keep(line)) out.push(line);
          }
          data = data.subarray(nl + 1);
          nl = data.indexOf(0x0a);
        }
        // A record without its newline is still being written: keep it for the next read.
        carry = Buffer.from(data);
      }
      return out;
    };

    try {
      const initial = await drain();
      if (!query.follow) for (const l of asm.flush()) if (filter.keep(l)) initial.push(l);
      for (const line of initial) {
        if (tail === undefined) {
          if (filter.pastUntil(line)) return;
          yield line;
        } else {
          ring.push(line);
          if (ring.length > tail) ring.shift();
        }
      }
      for (const line of ring) {
        if (filter.pastUntil(line)) return;
        yield line;
      }
      if (!query.follow || filter.untilPassed()) return;

      const waiter = new ChangeWaiter(logPath, this.pollMs, signal);
      try {
        for (;;) {
          await waiter.next();
          // An abort ends the follow after one last read, so a caller that aborts
          // once the container exited still gets the lines written just before.
          const stopping = signal?.aborted === true;
          let lines = await drain();
          // Rotation: a new file at the path (new inode) or the same file truncated.
          const cur = await stat(logPath).catch(() => undefined);
          if (cur !== undefined && cur.ino !== ino) {
            lines = lines.concat(await drain());
            await file.close();
            file = await openLog(logPath);
            ino = (await file.stat()).ino;
            pos = 0;
            carry = Buffer.alloc(0);
            waiter.rewatch();
            lines = lines.concat(await drain());
          } else if (cur !== undefined && cur.size < pos) {
            pos = 0;
            carry = Buffer.alloc(0);
            lines = lines.concat(await drain());
          }
          if (stopping) for (const l of asm.flush()) if (filter.keep(l)) lines.push(l);
          for (const line of lines) {
            if (filter.pastUntil(line)) return;
            yield line;
          }
          if (stopping) return;
        }
      } finally {
        waiter.close();
      }
    } finally {
      await file.close();
    }
  }
}

async function openLog(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`log file ${path} does not exist`, { cause: err });
    }
    throw err;
  }
}

interface Filter {
  keep(line: LogLine): boolean;
  /** True once a line is later than `until`: nothing after it can match. */
  pastUntil(line: LogLine): boolean;
  /** True when `until` is already in the past, so following would never yield. */
  untilPassed(): boolean;
}

function makeFilter(q: LogQuery): Filter {
  const since = q.since !== undefined && q.since !== '' ? parseTimeBound(q.since, 'since') : undefined;
  const until = q.until !== undefined && q.until !== '' ? parseTimeBound(q.until, 'until') : undefined;
  // Both streams unless the caller picked some.
  const none = q.stdout === undefined && q.stderr === undefined;
  const wantOut = none || q.stdout === true;
  const wantErr = none || q.stderr === true;
  return {
    keep: (l) => (l.stream === 'stdout' ? wantOut : wantErr) && (since === undefined || l.time >= since),
    pastUntil: (l) => until !== undefined && l.time > until,
    untilPassed: () => until !== undefined && new Date().toISOString() > until,
  };
}

/** Resolves on a change of the log file, after the poll interval, or on abort. */
class ChangeWaiter {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private dirty = false;

  constructor(
    private readonly path: string,
    private readonly pollMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.rewatch();
    signal?.addEventListener('abort', this.onEvent, { once: true });
  }

  private readonly onEvent = (): void => {
    this.dirty = true;
    this.wake?.();
  };

  rewatch(): void {
    this.watcher?.close();
    try {
      this.watcher = watch(this.path, this.onEvent);
      this.watcher.on('error', () => {
        // The poll keeps things going.
      });
    } catch {
      this.watcher = undefined;
    }
  }

  next(): Promise<void> {
    if (this.dirty || this.signal?.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        this.dirty = false;
        done();
      };
    });
  }

  close(): void {
    this.watcher?.close();
    this.signal?.removeEventListener('abort', this.onEvent);
  }
}
