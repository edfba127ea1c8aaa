import type { Encoder } from '@msgpack/msgpack';
import type { LogRecord } from './record.js';

/**
 * Keys whose values repeat record after record (the container's identity and
 * the host): their encoded values are kept and copied, not encoded again.
 */
const STABLE_KEYS = new Set(['container_id', 'container_name', 'source', 'image', 'image_tag', 'host']);

/** Strings shorter than this (fixstr, when ASCII) are copied by a JS loop; longer ones natively. */
const SHORT = 32;

/** The type bytes of a msgpack length header: fix form (with its bound), 8-, 16- and 32-bit forms. */
interface HeaderCodes {
  fix?: number;
  fixMax: number;
  c8?: number;
  c16: number;
  c32: number;
}
const STR: HeaderCodes = { fix: 0xa0, fixMax: 32, c8: 0xd9, c16: 0xda, c32: 0xdb };
const BIN: HeaderCodes = { fixMax: 0, c8: 0xc4, c16: 0xc5, c32: 0xc6 };
const MAP: HeaderCodes = { fix: 0x80, fixMax: 16, c16: 0xde, c32: 0xdf };

/** Bytes of the smallest header for `len` (what @msgpack/msgpack picks). */
function headerSize(len: number, codes: HeaderCodes): number {
  if (codes.fix !== undefined && len < codes.fixMax) return 1;
  if (codes.c8 !== undefined && len < 0x100) return 2;
  return len < 0x10000 ? 3 : 5;
}

/** Writes that header at `p` in `size` bytes (see headerSize); returns the offset after it. */
function writeHeader(b: Buffer, p: number, len: number, size: number, codes: HeaderCodes): number {
  if (size === 1) b[p] = (codes.fix ?? 0) | len;
  else if (size === 2) {
    b[p] = codes.c8 ?? 0;
    b[p + 1] = len;
  } else if (size === 3) {
    b[p] = codes.c16;
    b.writeUInt16BE(len, p + 1);
  } else {
    b[p] = codes.c32;
    b.writeUInt32BE(len, p + 1);
  }
  return p + size;
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

  /** Starts a new body; what `view()` returned before is overwritten. */
  reset(): void {
    this.pos = 0;
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
    this.pos = writeHeader(this.buf, this.pos, n, headerSize(n, MAP), MAP);
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
    const guess = headerSize(s.length, STR);
    const len = b.write(s, start + guess, 'utf8');
    const size = headerSize(len, STR);
    if (size !== guess) b.copyWithin(start + size, start + guess, start + guess + len);
    writeHeader(b, start, len, size, STR);
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
  const tagHead = headerSize(tagLen, STR);
  const binHead = headerSize(n, BIN);
  const out = Buffer.allocUnsafe(1 + tagHead + tagLen + binHead + n + options.length);
  out[0] = 0x93; // fixarray(3)
  let p = writeHeader(out, 1, tagLen, tagHead, STR);
  p += out.write(tag, p, 'utf8');
  p = writeHeader(out, p, n, binHead, BIN);
  out.set(entries, p);
  p += n;
  out.set(options, p);
  return out;
}
