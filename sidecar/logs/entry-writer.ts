import type { Encoder } from '@msgpack/msgpack';
import type { LogRecord } from './record.js';

/**
 * Keys whose values repeat record after record (the container's identity and
 * the host): their encoded values are kept and copied, not encoded again.
 */
const STABLE_KEYS = new Set(['container_id', 'container_name', 'source', 'image', 'image_tag', 'host']);

/** Strings shorter than this (fixstr, when ASCII) are copied by a JS loop; longer ones natively. */
const SHORT = 32;

/** Bytes of a msgpack str header for a string of `len` bytes (fixstr, str8, str16, str32). */
function headerSize(len: number): number {
  return len < 32 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

/** Bound on cached values (a value per container and key; cleared when full). */
const MAX_STABLE_VALUES = 4096;

/**
 * Writes PackedForward entries (`[EventTime, record]` msgpack arrays, one
 * after the other) into one growing buffer: the hot path of shipping.
 *
 * Records are flat maps of short strings almost always, so strings, numbers,
 * booleans and null are written directly (Buffer.write is native UTF-8;
 * keys, which repeat in every record, come from a cache); anything else (a
 * merged JSON line's nested value) goes through the general encoder. The
 * output is byte-for-byte what @msgpack/msgpack writes for the same values
 * (checked for fix/str8/16/32 strings, multi-byte text, maps over 15 keys,
 * numbers, booleans, null, nested values), except that a lone UTF-16
 * surrogate becomes U+FFFD (valid UTF-8) where @msgpack writes invalid bytes.
 */
export class EntryWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private readonly keys = new Map<string, Buffer>();
  private readonly stableValues = new Map<string, Buffer>();

  constructor(private readonly fallback: Encoder) {}

  /** Starts a new body; the previous one must have been taken with `take()`. */
  reset(): void {
    this.pos = 0;
  }

  /** The bytes written since `reset()` (a copy: the buffer is reused). */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** The bytes written since `reset()`, in place: valid until the next `reset()`. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  write(r: LogRecord): void {
    this.room(16);
    const b = this.buf;
    b[this.pos++] = 0x92; // fixarray(2)
    b[this.pos++] = 0xd7; // fixext 8
    b[this.pos++] = 0x00; // type 0: EventTime
    b.writeUInt32BE(r.sec >>> 0, this.pos);
    b.writeUInt32BE(r.nsec >>> 0, this.pos + 4);
    this.pos += 8;
    const fields = r.fields;
    if (r.shared) {
      // The common record: the container's fixed fields as one cached copy, then the three that vary.
      const shared = r.shared;
      let enc = shared.encoded;
      if (enc === undefined) {
        const start = this.pos;
        for (const [k, v] of shared.pairs) {
          this.key(k);
          this.string(v);
        }
        enc = Buffer.from(this.buf.subarray(start, this.pos));
        shared.encoded = enc;
        this.pos = start;
      }
      this.mapHeader(shared.pairs.length + 3);
      this.room(enc.length);
      this.buf.set(enc, this.pos);
      this.pos += enc.length;
      this.key('source');
      this.stableString(fields.source as string);
      this.key('time');
      this.string(fields.time as string);
      this.key('log');
      this.string(fields.log as string);
      return;
    }
    let n = 0;
    for (const k in fields) if (fields[k] !== undefined) n++;
    this.mapHeader(n);
    for (const k in fields) {
      const v = fields[k];
      if (v === undefined) continue;
      this.key(k);
      if (typeof v === 'string' && STABLE_KEYS.has(k)) this.stableString(v);
      else this.value(v);
    }
  }

  private stableString(v: string): void {
    const enc = this.stableValues.get(v);
    if (enc === undefined) {
      const start = this.pos;
      this.string(v);
      if (this.stableValues.size >= MAX_STABLE_VALUES) this.stableValues.clear();
      this.stableValues.set(v, Buffer.from(this.buf.subarray(start, this.pos)));
      return;
    }
    this.room(enc.length);
    this.buf.set(enc, this.pos);
    this.pos += enc.length;
  }

  private key(k: string): void {
    let enc = this.keys.get(k);
    if (!enc) {
      const start = this.pos;
      this.string(k);
      enc = Buffer.from(this.buf.subarray(start, this.pos));
      if (this.keys.size < 1024) this.keys.set(k, enc);
      return;
    }
    this.room(enc.length);
    // Keys are a few bytes: a loop beats a native copy call.
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < enc.length; i++) b[p++] = enc[i] as number;
    this.pos = p;
  }

  private value(v: unknown): void {
    if (typeof v === 'string') this.string(v);
    else if (typeof v === 'boolean') this.byte(v ? 0xc3 : 0xc2);
    else if (v === null) this.byte(0xc0);
    else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 128) this.byte(v);
    else {
      const enc = this.fallback.encode(v);
      this.room(enc.length);
      this.buf.set(enc, this.pos);
      this.pos += enc.length;
    }
  }

  private byte(x: number): void {
    this.room(1);
    this.buf[this.pos++] = x;
  }

  private mapHeader(n: number): void {
    this.room(5);
    const b = this.buf;
    if (n < 16) b[this.pos++] = 0x80 | n;
    else if (n < 0x10000) {
      b[this.pos++] = 0xde;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xdf;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  private string(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; the header at most 5.
    this.room(s.length * 3 + 5);
    if (s.length < SHORT && this.ascii(s)) return;
    // One native UTF-8 write (about 3× faster than a JS loop for a 100-character
    // line) right after a header sized for the likely length; when the real
    // length needs another header size (non-ASCII text), the bytes move over.
    const b = this.buf;
    const start = this.pos;
    const guess = headerSize(s.length);
    const len = b.write(s, start + guess, 'utf8');
    const size = headerSize(len);
    if (size !== guess) b.copyWithin(start + size, start + guess, start + guess + len);
    if (size === 1) b[start] = 0xa0 | len;
    else if (size === 2) {
      b[start] = 0xd9;
      b[start + 1] = len;
    } else if (size === 3) {
      b[start] = 0xda;
      b.writeUInt16BE(len, start + 1);
    } else {
      b[start] = 0xdb;
      b.writeUInt32BE(len, start + 1);
    }
    this.pos = start + size + len;
  }

  /**
   * Writes a short string as a fixstr if it is ASCII (the usual case) with a
   * plain loop, which beats a native call for the few bytes of a key or a
   * name; false (nothing written) otherwise.
   */
  private ascii(s: string): boolean {
    const b = this.buf;
    const n = s.length;
    let p = this.pos + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      b[p++] = c;
    }
    b[this.pos] = 0xa0 | n;
    this.pos = p;
    return true;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/**
 * A Forward message `[tag, entries, options]` as @msgpack/msgpack encodes it
 * (fixarray, str, bin8/16/32, then `options` already encoded), with a single
 * copy of the entries: the general encoder copied them twice per batch.
 */
export function forwardMessage(tag: string, entries: Uint8Array, options: Uint8Array): Buffer {
  const tagLen = Buffer.byteLength(tag, 'utf8');
  const n = entries.length;
  const binHead = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = Buffer.allocUnsafe(1 + headerSize(tagLen) + tagLen + binHead + n + options.length);
  let p = 0;
  out[p++] = 0x93; // fixarray(3)
  if (tagLen < 32) out[p++] = 0xa0 | tagLen;
  else if (tagLen < 0x100) {
    out[p++] = 0xd9;
    out[p++] = tagLen;
  } else if (tagLen < 0x10000) {
    out[p++] = 0xda;
    out.writeUInt16BE(tagLen, p);
    p += 2;
  } else {
    out[p++] = 0xdb;
    out.writeUInt32BE(tagLen, p);
    p += 4;
  }
  p += out.write(tag, p, 'utf8');
  if (n < 0x100) {
    out[p++] = 0xc4;
    out[p++] = n;
  } else if (n < 0x10000) {
    out[p++] = 0xc5;
    out.writeUInt16BE(n, p);
    p += 2;
  } else {
    out[p++] = 0xc6;
    out.writeUInt32BE(n, p);
    p += 4;
  }
  out.set(entries, p);
  p += n;
  out.set(options, p);
  return out;
}
