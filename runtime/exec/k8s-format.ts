import { InvalidArgumentError } from '../base/errors.js';
import type { LogLine } from '../runtime.js';

/**
 * conmon's k8s-file format (the CRI log format), one record per line:
 *
 *   2026-11-27T18:50:13.183691507+00:00 stdout F hello
 *   <RFC 3339 with nanoseconds> <stdout|stderr> <tags> <text>
 *
 * Tags are `:`-separated; the first is `F` (full: the text ended with a
 * newline) or `P` (partial: conmon flushed without a newline, the line goes on
 * in the next record of the same stream).
 */
export interface K8sRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

/** Parses one record; undefined for a malformed line (e.g. one cut off by a crash). */
export function parseK8sRecord(line: string): K8sRecord | undefined {
  const s1 = line.indexOf(' ');
  if (s1 <= 0) return undefined;
  const s2 = line.indexOf(' ', s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.slice(s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  let s3 = line.indexOf(' ', s2 + 1);
  // An empty full line may be written without the separator after the tag.
  if (s3 < 0) s3 = line.length;
  const tags = line.slice(s2 + 1, s3);
  const first = tags.split(':', 1)[0];
  if (first !== 'F' && first !== 'P') return undefined;
  const time = normalizeTime(line.slice(0, s1));
  if (time === undefined) return undefined;
  return { time, stream, partial: first === 'P', text: line.slice(s3 + 1) };
}

const TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * RFC 3339 with any offset → UTC with exactly nine fractional digits and `Z`.
 * Done by hand because Date keeps only milliseconds.
 */
export function normalizeTime(t: string): string | undefined {
  const m = TIME_RE.exec(t);
  if (!m) return undefined;
  const [, date, clock, frac = '', zone] = m;
  const nanos = frac.padEnd(9, '0');
  if (zone === 'Z' || zone === '+00:00' || zone === '-00:00') return `${date}T${clock}.${nanos}Z`;
  const ms = Date.parse(`${date}T${clock}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${nanos}Z`;
}

/**
 * Most bytes of one line joined from partial records: 1 MiB. conmon splits
 * output at its 8 KiB buffer, so a container printing without newlines would
 * otherwise make one string of everything it ever printed (V8 gives up near
 * 512 MiB, and the agent's memory long before). 1 MiB is 64 × Docker's 16 KiB
 * line limit and the log shipper's join cap (sidecar/logs): any real line
 * (a JSON document, a stack trace line) fits.
 */
export const MAX_JOINED_LINE_BYTES = 1 << 20;

/**
 * Joins partial records into whole lines, per stream (stdout and stderr
 * fragments can interleave). A joined line carries the time of its first
 * fragment, when the line began.
 */
export class LineAssembler {
  private readonly pending = new Map<'stdout' | 'stderr', { time: string; text: string; bytes: number }>();

  constructor(private readonly maxBytes = MAX_JOINED_LINE_BYTES) {}

  /**
   * Returns the lines this record completes: none (a partial record joined),
   * one, or two when joining it would pass the cap (the part joined so far
   * comes first, flagged `partial`: the line goes on in the next one).
   */
  push(rec: K8sRecord): LogLine[] {
    const prev = this.pending.get(rec.stream);
    const bytes = Buffer.byteLength(rec.text);
    const out: LogLine[] = [];
    let cur = prev;
    if (cur && cur.bytes + bytes > this.maxBytes) {
      // Pieces of one line keep the time the line began, like the whole line would.
      out.push({ time: cur.time, stream: rec.stream, line: cur.text, partial: true });
      cur = { time: cur.time, text: '', bytes: 0 };
    }
    const joined = cur
      ? { time: cur.time, text: cur.text + rec.text, bytes: cur.bytes + bytes }
      : { time: rec.time, text: rec.text, bytes };
    if (rec.partial) {
      this.pending.set(rec.stream, joined);
      return out;
    }
    this.pending.delete(rec.stream);
    out.push({ time: joined.time, stream: rec.stream, line: joined.text });
    return out;
  }

  /** Unterminated fragments as lines (the container exited mid-line), oldest first. */
  flush(): LogLine[] {
    const out = [...this.pending.entries()].map(([stream, p]) => ({ time: p.time, stream, line: p.text }));
    this.pending.clear();
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }
}

/** `since`/`until` as given by a user (ISO time or unix seconds, fractional allowed) → normalised UTC. */
export function parseTimeBound(value: string, field: string): string {
  const v = value.trim();
  if (/^\d+(\.\d{1,9})?$/.test(v)) {
    const [secs = '0', frac = ''] = v.split('.');
    const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
    return `${base}.${frac.padEnd(9, '0')}Z`;
  }
  const n = normalizeTime(v);
  if (n !== undefined) return n;
  const ms = Date.parse(v);
  if (!Number.isNaN(ms) && /^\d{4}-\d{2}-\d{2}/.test(v)) {
    return `${new Date(ms).toISOString().slice(0, 19)}.${new Date(ms).toISOString().slice(20, 23)}000000Z`;
  }
  throw new InvalidArgumentError(
    `${field}: "${value}" is not a time (RFC 3339 like 2024-01-02T15:04:05Z, or unix seconds)`,
    { field },
  );
}
