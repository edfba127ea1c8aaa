import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import type { LogLine, LogQuery } from '../runtime.js';
import { parseJsonFileEntry } from './json-file-format.js';
import { type K8sEntry, LineAssembler, parseK8sEntry, parseTimeBound } from './k8s-format.js';
import type { LogPort } from './types.js';

const CHUNK = 64 << 10;

/**
 * Most bytes of one record (one line of the file): 2 MiB. conmon writes
 * records of at most its 8 KiB buffer, Docker's json-file at most 16 KiB of
 * text (×6 when every byte is escaped): a longer one is not a record of
 * theirs, and is skipped as malformed instead of held whole.
 */
export const MAX_RECORD_BYTES = 2 << 20;

/** What `read` reads besides the query (observe mode's files; berth's own use the defaults). */
export interface LogFilesOptions {
  /** The files' format: conmon's `k8s-file` (the default) or Docker's `json-file`. */
  format?: 'k8s-file' | 'json-file';
  /** The older files, oldest first, read before the one at the path (default `<path>.1`, berth's rotation). */
  older?: readonly string[];
  /** Opens one file for reading; undefined when there is none (default: a plain open). */
  open?: (path: string) => Promise<FileHandle | undefined>;
  /** Called once per line skipped as malformed (unparseable, or longer than MAX_RECORD_BYTES). */
  onMalformed?: () => void;
}

export interface K8sLogReaderOptions {
  /** While following, how often to look for new data when no fs event arrived (ms). */
  pollIntervalMs?: number;
}

/**
 * Reads conmon's k8s-file logs (see k8s-format.ts): the old file berth's
 * rotation keeps (`<path>.1`, log-rotator.ts) first, then the file at the path.
 *
 * Following: keeps reading as the file grows and survives rotation (berth's
 * rename to `.1` and conmon's reopen, or conmon's own --log-size-max: a new
 * file at the same path; the old inode is drained to its end before
 * switching). Following never ends
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

  read(logPath: string, query: LogQuery, files: LogFilesOptions = {}): AsyncIterable<LogLine> {
    const filter = makeFilter(query);
    if (query.tail !== undefined && (!Number.isInteger(query.tail) || query.tail < 0)) {
      throw new InvalidArgumentError(`tail: ${query.tail} is not a non-negative integer`, { field: 'tail' });
    }
    return this.generate(logPath, query, filter, files);
  }

  private async *generate(
    logPath: string,
    query: LogQuery,
    filter: Filter,
    files: LogFilesOptions,
  ): AsyncGenerator<LogLine> {
    const signal = query.signal;
    const parse = files.format === 'json-file' ? parseJsonFileEntry : parseK8sEntry;
    const openFile = files.open ?? openOptional;
    const malformed = files.onMalformed ?? (() => {});
    // The file at the path, then the older ones newest first (berth's `.1`, log-rotator.ts; Docker's
    // `.1`, `.2`, …), opened in that order: a rotation between two opens shows as the same inode
    // twice (read once), never as a gap.
    const atPath = await openFile(logPath);
    const inodes = new Set<number>();
    if (atPath) inodes.add((await atPath.stat()).ino);
    const olders: FileHandle[] = [];
    try {
      for (const p of [...(files.older ?? [`${logPath}.1`])].reverse()) {
        const h = await openFile(p);
        if (!h) continue;
        const i = (await h.stat()).ino;
        if (inodes.has(i)) await h.close();
        else {
          inodes.add(i);
          olders.unshift(h);
        }
      }
    } catch (err) {
      await Promise.all([atPath, ...olders].map((h) => h?.close().catch(() => {})));
      throw err;
    }
    // No file at the path: between a rotation's rename and conmon's new file, or an exited container
    // rotated by the rename alone; the older ones are all there is (following picks up the new file
    // when it appears).
    let file: FileHandle;
    const newestOlder = atPath ? undefined : olders.pop();
    if (atPath) file = atPath;
    else if (newestOlder) file = newestOlder;
    else throw new NotFoundError(`log file ${logPath} does not exist`);
    let ino = (await file.stat()).ino;
    const tail = query.tail;
    let pos = 0;
    let carry: Buffer = Buffer.alloc(0);
    /** Inside a record longer than MAX_RECORD_BYTES: bytes are dropped up to its newline. */
    let skipping = false;
    const restart = (at: number) => {
      pos = at;
      carry = Buffer.alloc(0);
      skipping = false;
    };
    const asm = new LineAssembler();
    const ring: LogLine[] = [];
    const buf = Buffer.alloc(CHUNK);

    /** Reads one chunk of `file` at `pos`: the lines that pass the filter, or undefined at EOF. */
    const readChunk = async (): Promise<LogLine[] | undefined> => {
      const { bytesRead } = await file.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) return undefined;
      pos += bytesRead;
      const out: LogLine[] = [];
      let data =
        carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let nl = data.indexOf(0x0a);
      if (skipping) {
        if (nl < 0) return out;
        skipping = false;
        data = data.subarray(nl + 1);
        nl = data.indexOf(0x0a);
      }
      while (nl >= 0) {
        const rec = parse(data, 0, nl);
        if (rec) {
          for (const line of asm.push(rec)) if (filter.keep(line)) out.push(line);
        } else if (nl > 0) malformed();
        data = data.subarray(nl + 1);
        nl = data.indexOf(0x0a);
      }
      // A record without its newline is still being written: keep it for the next read (unless
      // it is already longer than any record: then it is skipped to its newline, not held).
      if (data.length > MAX_RECORD_BYTES) {
        malformed();
        skipping = true;
        carry = Buffer.alloc(0);
      } else carry = Buffer.from(data);
      return out;
    };

    /** Reads from `pos` to EOF of the open file, returning the lines that pass the filter. */
    const drain = async (): Promise<LogLine[]> => {
      const out: LogLine[] = [];
      for (let lines = await readChunk(); lines; lines = await readChunk()) out.push(...lines);
      return out;
    };

    const current = file;
    const sources = [...olders, current];
    try {
      for (const [i, src] of sources.entries()) {
        const last = i === sources.length - 1;
        file = src;
        // --tail N: start where the last N lines of each file begin, found from its end, instead of
        // reading (and holding) everything before them; the ring keeps the last N of both.
        restart(tail === undefined ? 0 : await tailStart(src, (await src.stat()).size, tail, filter, parse));
        // A line conmon cut at the rotation continues at the new file's start; read from later
        // than that, what `.1` left open is a line of its own.
        const cut = i > 0 && pos > 0 ? asm.flush().filter((l) => filter.keep(l)) : [];
        // Chunk by chunk: memory holds one chunk's lines (or the last `tail`), never the file.
        for (let first = true; ; first = false) {
          const chunk = await readChunk();
          const flushed = !chunk && last && !query.follow ? asm.flush().filter((l) => filter.keep(l)) : [];
          const lines = [...(first ? cut : []), ...(chunk ?? flushed)];
          for (const line of lines) {
            if (tail === undefined) {
              if (filter.pastUntil(line)) return;
              yield line;
            } else {
              ring.push(line);
              // Trimmed in batches: a shift per line is quadratic for a large tail.
              if (ring.length >= 2 * tail + 1024) ring.splice(0, ring.length - tail);
            }
          }
          if (!chunk) break;
        }
      }
      file = current;
      for (const line of tail === undefined ? [] : ring.slice(Math.max(0, ring.length - tail))) {
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
          // Chunk by chunk here too: a burst of output is never held whole, and a consumer that
          // waits (an attached client that reads slowly) holds the reading back (issue 12 item 11).
          for (let chunk = await readChunk(); chunk; chunk = await readChunk()) {
            for (const line of chunk) {
              if (filter.pastUntil(line)) return;
              yield line;
            }
          }
          let lines: LogLine[] = [];
          // Rotation: a new file at the path (new inode) or the same file truncated.
          // ENOENT between conmon's rename and its new file: no rotation to follow yet, the next turn looks again.
          const cur = await stat(logPath).catch(() => undefined);
          if (cur !== undefined && cur.ino !== ino) {
            lines = lines.concat(await drain());
            await file.close();
            file = (await openFile(logPath)) ?? (await openLog(logPath));
            ino = (await file.stat()).ino;
            restart(0);
            waiter.rewatch();
            lines = lines.concat(await drain());
          } else if (cur !== undefined && cur.size < pos) {
            restart(0);
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
      for (const h of olders) if (h !== file) await h.close();
    }
  }
}

type Stream = 'stdout' | 'stderr';

/**
 * The offset a forward read must start from to see the last `n` lines that
 * `filter` keeps, found by reading the file backwards in CHUNK-sized reads
 * from `size`: bytes read and memory grow with what those lines take, not
 * with the file.
 *
 * Going backwards, a line (one or more records of a stream: `P`… then `F`)
 * is complete once the previous `F` of its stream (or the file's start) is
 * reached; its first record is then known, and with it its time (what
 * `since` compares). Once `n` kept lines are complete, lines of the other
 * streams that are still open may have begun earlier (their fragments
 * interleave), so the scan goes on until each of those has begun too: the
 * forward read from the result never starts inside a line. Lines longer
 * than the join cap become several pieces forward; counting each as one
 * here only moves the start earlier.
 *
 * Not seen: a line of a stream that has no record after the cut and whose
 * last record is a `P` (the container wrote half a line to stderr, then only
 * stdout for megabytes). A full read shows it at the end (or joins it when
 * its `F` comes); finding it would mean reading the whole file back, which is
 * what this avoids, so `--tail` leaves it out.
 */
export async function tailStart(
  file: FileHandle,
  size: number,
  n: number,
  filter: Filter,
  parse: (buf: Buffer) => K8sEntry | undefined = parseK8sEntry,
): Promise<number> {
  /** Per stream: the earliest record seen so far (going backwards) of its line not yet complete. */
  const open = new Map<Stream, { start: number; time: string }>();
  /** After the cut: the streams whose open line must still reach its beginning. */
  let waiting: Set<Stream> | undefined;
  let cut = size;
  let kept = 0;
  if (n === 0) waiting = new Set<Stream>(['stdout', 'stderr']);
  const buf = Buffer.alloc(CHUNK);
  let pos = size;
  /** Bytes from `pos` up to and including the first newline after it: a record not yet complete. */
  let rest: Buffer = Buffer.alloc(0);
  let skipTrailing = true;

  /** One record at `offset`, going backwards; true when the scan is done. */
  const visit = (offset: number, raw: Buffer): boolean => {
    const rec = parse(raw);
    if (!rec) return false;
    const s = rec.stream;
    if (waiting) {
      if (!waiting.has(s)) return false;
      if (rec.partial) {
        cut = Math.min(cut, offset);
        return false;
      }
      // An F: the open line of this stream began just after it.
      waiting.delete(s);
      return waiting.size === 0;
    }
    const o = open.get(s);
    if (!rec.partial && o) {
      if (filter.keep({ time: o.time, stream: s, line: '' })) kept++;
      if (kept >= n) {
        // Every line found so far begins after this record; a line still
        // open in the other stream may have begun before it.
        cut = offset + raw.length + 1;
        waiting = new Set([...open.keys()].filter((k) => k !== s));
        return waiting.size === 0;
      }
    }
    open.set(s, { start: offset, time: rec.time });
    return false;
  };

  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead } = await file.read(buf, 0, len, pos);
    const data =
      rest.length > 0 ? Buffer.concat([buf.subarray(0, bytesRead), rest]) : buf.subarray(0, bytesRead);
    let end = data.length;
    if (skipTrailing) {
      // Bytes after the last newline are a record still being written: not a line yet.
      const last = data.lastIndexOf(0x0a);
      if (last < 0) {
        // No newline in more than a record's bytes: not a file of records; the forward read from
        // the start (which skips such a record) finds the last lines instead.
        if (data.length > MAX_RECORD_BYTES) return 0;
        rest = Buffer.from(data);
        continue;
      }
      skipTrailing = false;
      end = last + 1;
      cut = pos + end;
    }
    // data[.., end) ends with a newline; walk its records from the last one back.
    let nl = end - 1;
    for (;;) {
      const prev = nl > 0 ? data.lastIndexOf(0x0a, nl - 1) : -1;
      if (prev < 0 && pos > 0) break;
      if (visit(pos + prev + 1, data.subarray(prev + 1, nl))) return cut;
      if (prev < 0) break;
      nl = prev;
    }
    rest = Buffer.from(data.subarray(0, nl + 1));
    if (rest.length > MAX_RECORD_BYTES) return 0;
  }
  // The file's start: lines still open begin at their first record, where `cut` is by now.
  return waiting && !skipTrailing ? cut : 0;
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

/** The file at `path`, or undefined when there is none. */
async function openOptional(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface Filter {
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
      // The file is gone (rotation in progress) or watching is not possible: the poll keeps things going.
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
