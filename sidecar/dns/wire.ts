// Over 400 lines: the DNS wire codec, parser and encoder together: they share name handling and the bounds checks.
import { expandIPv6 } from './names.js';

/**
 * Wire format, written here rather than through dns2's Packet: dns2 encodes
 * through an array of single bits (about 1 ms per record, 60 ms for a
 * 60-record answer), and its parser swallows per-record errors while walking
 * bit by bit, so a hostile header claiming 65535 records costs 260k
 * exceptions. This file is the small subset a stub-facing server needs:
 * a bounds-checked query parser and an encoder for A, AAAA, SRV and SOA with
 * name compression that records where each record ends, so truncation cuts at
 * a record boundary. dns2 stays the independent decoder the tests check
 * these bytes with.
 */

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (OPT) rcode 16 = BADVERS. */
  BADVERS: 16,
} as const;

export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  16: 'BADVERS',
};

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
export const typeName = (t: number): string => TYPE_NAMES[t] ?? `TYPE${t}`;

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

export interface Question {
  /** As sent (case preserved, no trailing dot). */
  name: string;
  type: number;
  class: number;
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
}

export interface Request {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  edns?: Edns;
}

export type ParseResult =
  | { ok: true; request: Request }
  /** Answer with this rcode (echoing id/opcode/question when known). */
  | { ok: false; rcode: number; id: number; opcode: number; rd: boolean; question?: Question }
  /** Not worth an answer: too short to carry an id, or itself a response (no reflection loops). */
  | { ok: false; drop: true };

class Overrun extends Error {}

/** Parses one query. Never throws. */
export function parseRequest(buf: Buffer): ParseResult {
  if (buf.length < 12) return { ok: false, drop: true };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { ok: false, drop: true };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  const fail = (rcode: number, question?: Question): ParseResult =>
    question === undefined
      ? { ok: false, rcode, id, opcode, rd }
      : { ok: false, rcode, id, opcode, rd, question };
  if (opcode !== 0) return fail(RCODE.NOTIMP);
  if (qd !== 1) return fail(RCODE.FORMERR);
  let off = 12;
  let question: Question;
  try {
    const n = readName(buf, off);
    off = n.next;
    need(buf, off, 4);
    question = { name: n.name, type: buf.readUInt16BE(off), class: buf.readUInt16BE(off + 2) };
    off += 4;
  } catch {
    return fail(RCODE.FORMERR);
  }
  let edns: Edns | undefined;
  try {
    for (let i = 0; i < an + ns + ar; i++) {
      const n = readName(buf, off);
      off = n.next;
      need(buf, off, 10);
      const type = buf.readUInt16BE(off);
      const cls = buf.readUInt16BE(off + 2);
      const ttl = buf.readUInt32BE(off + 4);
      const rdlen = buf.readUInt16BE(off + 8);
      off += 10;
      need(buf, off, rdlen);
      off += rdlen;
      if (type === TYPE.OPT) {
        // RFC 6891 §6.1.1: one OPT, owned by the root, in the additional section.
        if (edns !== undefined || n.name !== '' || i < an + ns) return fail(RCODE.FORMERR, question);
        edns = { udpSize: cls, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0 };
      }
    }
  } catch {
    return fail(RCODE.FORMERR, question);
  }
  const request: Request = { id, opcode, rd, cd, question };
  if (edns !== undefined) request.edns = edns;
  return { ok: true, request };
}

function need(buf: Buffer, off: number, n: number): void {
  if (off + n > buf.length) throw new Overrun('packet ends inside a field');
}

/** A (possibly compressed) name; pointers must go backwards, which also rules out loops. */
function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let off = start;
  let next = -1;
  let total = 1;
  for (let hops = 0; hops < 128; hops++) {
    need(buf, off, 1);
    const len = buf[off] ?? 0;
    if ((len & 0xc0) === 0xc0) {
      need(buf, off, 2);
      const target = buf.readUInt16BE(off) & 0x3fff;
      if (target >= off) throw new Overrun('compression pointer does not point backwards');
      if (next < 0) next = off + 2;
      off = target;
      continue;
    }
    if (len & 0xc0) throw new Overrun('reserved label type');
    if (len === 0) return { name: labels.join('.'), next: next < 0 ? off + 1 : next };
    need(buf, off + 1, len);
    total += len + 1;
    if (total > 255) throw new Overrun('name longer than 255 octets');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += len + 1;
  }
  throw new Overrun('too many compression pointers');
}

/** A record to encode; `data` per type: address (A/AAAA), priority/weight/port/target (SRV), SOA fields. */
export interface RR {
  name: string;
  type: number;
  ttl: number;
  data:
    | { address: string }
    | { priority: number; weight: number; port: number; target: string }
    | {
        primary: string;
        admin: string;
        serial: number;
        refresh: number;
        retry: number;
        expiration: number;
        minimum: number;
      };
}

export interface Response {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  /** Authoritative (our own zone) vs. not. */
  aa: boolean;
  /** Extended rcodes (>15) go into the OPT record. */
  rcode: number;
  question?: Question;
  answers: RR[];
  authority: RR[];
  additional: RR[];
  /** Include an OPT record advertising this UDP size (when the query had EDNS). */
  edns?: { udpSize: number };
}

export interface Encoded {
  buf: Buffer;
  truncated: boolean;
  answers: number;
}

const OPT_LEN = 11;

/**
 * Encodes `res` into at most `maxBytes`. Sections are cut at record
 * boundaries in order; a dropped answer sets TC (the client must retry over
 * TCP), dropped authority or additional records do not (RFC 2181 §9). The OPT
 * record is always kept.
 */
export function encodeResponse(res: Response, maxBytes: number): Encoded {
  const w = new MessageWriter();
  w.u16(0).u16(0).u16(0).u16(0).u16(0).u16(0);
  if (res.question !== undefined) {
    w.name(res.question.name).u16(res.question.type).u16(res.question.class);
  }
  const headerAndQuestion = w.length;
  const ends: number[] = [];
  for (const rr of [...res.answers, ...res.authority, ...res.additional]) {
    w.record(rr);
    ends.push(w.length);
  }
  const full = w.bytes();
  const an = res.answers.length;
  const ns = res.authority.length;
  const limit = Math.max(0, maxBytes - (res.edns !== undefined ? OPT_LEN : 0));
  let keep = ends.length;
  if (full.length > limit) {
    keep = 0;
    while (keep < ends.length && (ends[keep] ?? Number.POSITIVE_INFINITY) <= limit) keep++;
  }
  const keptAn = Math.min(keep, an);
  const truncated = keptAn < an;
  // A cut answer section drops what follows it too: authority and glue for a partial answer would mislead.
  if (truncated) keep = keptAn;
  const keptNs = Math.min(Math.max(keep - an, 0), ns);
  const keptAr = Math.max(keep - an - ns, 0);
  const cut = keep === 0 ? headerAndQuestion : (ends[keep - 1] ?? full.length);

  const opt = res.edns !== undefined ? optRecord(res.edns.udpSize, res.rcode) : Buffer.alloc(0);
  const out = Buffer.concat([full.subarray(0, cut), opt]);
  let flags = 0x8000 | ((res.opcode & 0xf) << 11) | (res.rcode & 0xf);
  if (res.aa) flags |= 0x0400;
  if (truncated) flags |= 0x0200;
  if (res.rd) flags |= 0x0100;
  flags |= 0x0080; // RA: we forward what is not ours.
  if (res.cd) flags |= 0x0010;
  out.writeUInt16BE(res.id, 0);
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(res.question !== undefined ? 1 : 0, 4);
  out.writeUInt16BE(keptAn, 6);
  out.writeUInt16BE(keptNs, 8);
  out.writeUInt16BE(keptAr + (res.edns !== undefined ? 1 : 0), 10);
  return { buf: out, truncated, answers: keptAn };
}

/** A growable byte buffer with DNS name compression (RFC 1035 §4.1.4). */
class MessageWriter {
  private buf = Buffer.alloc(512);
  length = 0;
  private readonly names = new Map<string, number>();

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf.writeUInt8(v & 0xff, this.length);
    this.length += 1;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.length);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
    return this;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** Throws for labels over 63 octets or names over 255: the caller answers SERVFAIL. */
  name(name: string): this {
    const labels = name.split('.').filter((l) => l !== '');
    let total = 1;
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.length < 0x4000) this.names.set(suffix, this.length);
      const bytes = Buffer.from(labels[i] ?? '', 'latin1');
      if (bytes.length > 63) throw new RangeError(`label "${labels[i]}" is longer than 63 octets`);
      total += bytes.length + 1;
      if (total > 255) throw new RangeError(`name "${name}" is longer than 255 octets`);
      this.u8(bytes.length).raw(bytes);
    }
    return this.u8(0);
  }

  record(rr: RR): this {
    this.name(rr.name)
      .u16(rr.type)
      .u16(CLASS_IN)
      .u32(Math.min(rr.ttl >>> 0, 0x7fffffff));
    const lenAt = this.length;
    this.u16(0);
    const d = rr.data;
    if ('address' in d) {
      this.raw(addressBytes(d.address));
    } else if ('target' in d) {
      // RFC 2782: the target must not be compressed.
      this.u16(d.priority).u16(d.weight).u16(d.port);
      this.uncompressedName(d.target);
    } else {
      this.name(d.primary)
        .name(d.admin)
        .u32(d.serial)
        .u32(d.refresh)
        .u32(d.retry)
        .u32(d.expiration)
        .u32(d.minimum);
    }
    this.buf.writeUInt16BE(this.length - lenAt - 2, lenAt);
    return this;
  }

  private uncompressedName(name: string): void {
    const labels = name.split('.').filter((l) => l !== '');
    for (const l of labels) {
      const bytes = Buffer.from(l, 'latin1');
      if (bytes.length > 63) throw new RangeError(`label "${l}" is longer than 63 octets`);
      this.u8(bytes.length).raw(bytes);
    }
    this.u8(0);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** 4 bytes for IPv4, 16 for IPv6 (callers only pass addresses they checked). */
function addressBytes(address: string): Uint8Array {
  if (address.includes(':')) {
    const groups = expandIPv6(address);
    if (groups === undefined) throw new RangeError(`"${address}" is not an IPv6 address`);
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => {
      b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
    });
    return b;
  }
  const parts = address.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`"${address}" is not an IPv4 address`);
  }
  return Uint8Array.from(parts);
}

/** OPT pseudo-record: root name, type 41, class = our UDP size, TTL = extended rcode/version/flags. */
function optRecord(udpSize: number, rcode: number): Buffer {
  const b = Buffer.alloc(OPT_LEN);
  b.writeUInt8(0, 0);
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(udpSize, 3);
  b.writeUInt32BE(((rcode >>> 4) & 0xff) * 0x1000000, 5);
  b.writeUInt16BE(0, 9);
  return b;
}

/** Header-only error answer for a request we could not (fully) parse. */
export function encodeError(
  id: number,
  opcode: number,
  rd: boolean,
  rcode: number,
  question: Question | undefined,
  edns?: { udpSize: number },
): Buffer {
  const res: Response = {
    id,
    opcode,
    rd,
    cd: false,
    aa: false,
    rcode,
    answers: [],
    authority: [],
    additional: [],
  };
  if (question !== undefined) res.question = question;
  if (edns !== undefined) res.edns = edns;
  try {
    return encodeResponse(res, 65535).buf;
  } catch {
    // The question itself does not encode (e.g. a 64-octet label): answer without it.
    delete res.question;
    return encodeResponse(res, 65535).buf;
  }
}

/** Sets TC and keeps only header + question of an upstream answer too big for the client. */
export function truncateForwarded(buf: Buffer, maxBytes: number): Buffer {
  if (buf.length <= maxBytes) return buf;
  let end = 12;
  try {
    const qd = buf.readUInt16BE(4);
    if (qd === 1) {
      end = readName(buf, 12).next + 4;
      need(buf, end, 0);
    }
  } catch {
    // The question does not parse: the answer echoes the header alone (FORMERR).
    end = 12;
  }
  const out = Buffer.from(buf.subarray(0, Math.min(end, maxBytes)));
  out.writeUInt16BE(out.readUInt16BE(2) | 0x0200, 2);
  out.writeUInt16BE(end > 12 ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
