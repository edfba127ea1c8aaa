import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import DNS from 'dns2';

const { Packet } = DNS;

export { Packet };

export interface QueryOptions {
  /** Add an OPT record advertising this UDP size. */
  edns?: number;
  ednsVersion?: number;
  id?: number;
  rd?: boolean;
}

/** A query in wire form, built with dns2 (an independent encoder from the server's). */
export function buildQuery(name: string, type: number, o: QueryOptions = {}): Buffer {
  const p = new Packet();
  p.header.id = o.id ?? Math.floor(Math.random() * 0xffff);
  p.header.rd = o.rd === false ? 0 : 1;
  p.questions.push({ name, type, class: Packet.CLASS.IN } as DNS.Packet.Question);
  if (o.edns !== undefined) {
    p.additionals.push(
      (Packet.Resource.EDNS as unknown as (r: unknown[], o: object) => DNS.Packet.Resource)([], {
        udpPayloadSize: o.edns,
        version: o.ednsVersion ?? 0,
      }),
    );
  }
  return p.toBuffer();
}

/** Sends one UDP datagram; resolves with the reply or undefined after `timeoutMs`. */
export function udpExchange(
  port: number,
  msg: Buffer,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

export function tcpExchange(
  port: number,
  msg: Buffer,
  timeoutMs = 3000,
  host = '127.0.0.1',
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host, port });
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error('tcp query timed out'));
    }, timeoutMs);
    c.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        c.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    c.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export interface Decoded {
  id: number;
  rcode: number;
  tc: boolean;
  aa: boolean;
  answers: DNS.Packet.Resource[];
  authorities: DNS.Packet.Resource[];
  additionals: DNS.Packet.Resource[];
  /** The OPT record's advertised UDP size, when there is one. */
  optSize?: number;
  size: number;
}

export function decode(buf: Buffer): Decoded {
  const p = Packet.parse(buf);
  const opt = p.additionals.find((r) => r.type === Packet.TYPE.EDNS);
  const d: Decoded = {
    id: p.header.id,
    rcode: p.header.rcode,
    tc: p.header.tc === 1,
    aa: p.header.aa === 1,
    answers: p.answers,
    authorities: p.authorities,
    additionals: p.additionals.filter((r) => r.type !== Packet.TYPE.EDNS),
    size: buf.length,
  };
  if (opt !== undefined) d.optSize = opt.class;
  return d;
}

/** Field access for decoded records (dns2's typings keep rdata loose). */
export const rdata = (r: DNS.Packet.Resource): Record<string, unknown> =>
  r as unknown as Record<string, unknown>;
