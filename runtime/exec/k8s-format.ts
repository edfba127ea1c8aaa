import { InvalidArgumentError } from '../base/errors.js';
import { CANONICAL_SHAPE, normalizeTime } from '../base/rfc3339.js';
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

/**
 * A record with what the log shipper needs besides: the time as unix
 * seconds and nanoseconds when it was conmon's own form (read straight from
 * the bytes, else undefined), and the UTF-8 length of the text.
 */
export interface K8sEntry extends K8sRecord {
  sec: number | undefined;
  nsec: number | undefined;
  /** UTF-8 bytes of `text`. */
  bytes: number;
}

/** Parses one record from text; undefined for a malformed line (e.g. one cut off by a crash). */
export function parseK8sRecord(line: string): K8sRecord | undefined {
  const e = parseK8sEntry(Buffer.from(line, 'utf8'));
  return e && { time: e.time, stream: e.stream, partial: e.partial, text: e.text };
}

const SP = 0x20;

/**
 * The last conmonTime result. A one-entry memo of a pure function (like
 * runtime/base/rfc3339.ts's secondsOf): lines come in runs within the same second, so the
 * calendar arithmetic runs once a second, not once a line.
 */
const parsed = { time: '', sec: 0, nsec: 0 };
const memoPrefix = new Uint8Array(19);
let memoValid = false;

/**
 * conmon's time (`…nnnnnnnnnZ`, or `+00:00` instead of `Z` on a UTC host)
 * checked and read straight from the bytes into `parsed`: the canonical UTC
 * string and its seconds and nanoseconds. False for anything else, which
 * then goes the general way (normalizeTime). Every shipped line passes here:
 * the string checks, slices and regexes it replaces were ~10% of the
 * agent's CPU per line.
 */
function conmonTime(buf: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n === 35) {
    if (
      buf[from + 29] !== 0x2b || // +
      buf[from + 30] !== 0x30 ||
      buf[from + 31] !== 0x30 ||
      buf[from + 32] !== 0x3a || // :
      buf[from + 33] !== 0x30 ||
      buf[from + 34] !== 0x30
    ) {
      return false;
    }
  } else if (n !== 30 || buf[from + 29] !== 0x5a /* Z */) return false;
  let nsec = 0;
  for (let i = 0; i < 29; i++) {
    const c = buf[from + i] ?? 0;
    const sep = CANONICAL_SHAPE[i];
    if (sep !== 0) {
      if (c !== sep) return false;
    } else if (c < 0x30 || c > 0x39) return false;
    else if (i >= 20) nsec = nsec * 10 + (c - 0x30);
  }
  let same = memoValid;
  for (let i = 0; same && i < 19; i++) if (memoPrefix[i] !== buf[from + i]) same = false;
  if (!same) {
    const d = (a: number, b: number) => {
      let v = 0;
      for (let i = from + a; i < from + b; i++) v = v * 10 + ((buf[i] ?? 0x30) - 0x30);
      return v;
    };
    parsed.sec = Date.UTC(d(0, 4), d(5, 7) - 1, d(8, 10), d(11, 13), d(14, 16), d(17, 19)) / 1000;
    for (let i = 0; i < 19; i++) memoPrefix[i] = buf[from + i] ?? 0;
    memoValid = true;
  }
  parsed.nsec = nsec;
  parsed.time = n === 30 ? buf.toString('latin1', from, to) : `${buf.toString('latin1', from, from + 29)}Z`;
  return true;
}

/**
 * Parses one record straight from a read buffer (`buf[from, to)`, no
 * newline): only the time and the text become strings, not the whole line
 * first. Undefined for a malformed line (e.g. one cut off by a crash).
 */
export function parseK8sEntry(buf: Buffer, from = 0, to = buf.length): K8sEntry | undefined {
  const s1 = buf.indexOf(SP, from);
  if (s1 <= from || s1 >= to) return undefined;
  const s2 = buf.indexOf(SP, s1 + 1);
  if (s2 < 0 || s2 >= to) return undefined;
  let stream: 'stdout' | 'stderr';
  if (s2 - s1 - 1 !== 6) return undefined;
  // Byte by byte: a native compare call per line cost more than the rest of the stream check.
  const p = s1 + 1;
  if (buf[p] !== 0x73 || buf[p + 1] !== 0x74 || buf[p + 2] !== 0x64) return undefined; // "std"
  if (buf[p + 3] === 0x6f && buf[p + 4] === 0x75 && buf[p + 5] === 0x74) stream = 'stdout';
  else if (buf[p + 3] === 0x65 && buf[p + 4] === 0x72 && buf[p + 5] === 0x72) stream = 'stderr';
  else return undefined;
  let s3 = buf.indexOf(SP, s2 + 1);
  // An empty full line may come without the space after the tag.
  if (s3 < 0 || s3 > to) s3 = to;
  const flag = buf[s2 + 1];
  const afterFlag = s2 + 2 === s3 ? SP : buf[s2 + 2];
  if ((flag !== 0x46 && flag !== 0x50) || (afterFlag !== SP && afterFlag !== 0x3a)) return undefined;
  const text = s3 >= to ? '' : buf.toString('utf8', s3 + 1, to);
  const bytes = s3 >= to ? 0 : to - s3 - 1;
  if (conmonTime(buf, from, s1)) {
    return {
      time: parsed.time,
      sec: parsed.sec,
      nsec: parsed.nsec,
      stream,
      partial: flag === 0x50,
      text,
      bytes,
    };
  }
  const time = normalizeTime(buf.toString('latin1', from, s1));
  if (time === undefined) return undefined;
  return { time, sec: undefined, nsec: undefined, stream, partial: flag === 0x50, text, bytes };
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
