import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { TcpFramer } from './framing.js';

export interface Upstream {
  address: string;
  port: number;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`. */
export function parseUpstream(s: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  let address = s;
  let port = 53;
  if (bracket !== null) {
    address = bracket[1] ?? '';
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(s) === 0) {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m !== null) {
      address = m[1] ?? '';
      port = Number(m[2]);
    }
  }
  if (isIP(address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(
      `upstreams: "${s}" is not an IP address with an optional port (1.1.1.1, [::1]:53)`,
      {
        field: 'upstreams',
      },
    );
  }
  return { address, port };
}

/** `nameserver` lines of a resolv.conf text (zone ids like `fe80::1%eth0` are dropped: not forwardable). */
export function nameserversOf(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m?.[1] !== undefined && !m[1].includes('%') && isIP(m[1]) !== 0) out.push(m[1]);
  }
  return out;
}

export function systemNameservers(path = '/etc/resolv.conf'): string[] {
  try {
    return nameserversOf(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * Forwards raw queries to upstream resolvers over UDP (TCP when a TCP client's
 * answer came back truncated). The first upstream gets the query at once, the
 * next ones after an equal share of the timeout each, and the first valid
 * answer wins. Each attempt uses a fresh socket and a random query id, and an
 * answer is only taken from the address it was sent to.
 */
export class Forwarder {
  constructor(
    readonly upstreams: readonly Upstream[],
    private readonly timeoutMs: number,
  ) {}

  /** The upstream answer with the client's id, or undefined when none answered in time. */
  async forward(query: Buffer, overTcp: boolean): Promise<Buffer | undefined> {
    if (this.upstreams.length === 0 || query.length < 12) return undefined;
    const clientId = query.readUInt16BE(0);
    const deadline = Date.now() + this.timeoutMs;
    const got = await this.raceUdp(query, deadline);
    if (got === undefined) return undefined;
    let answer = got.answer;
    if (overTcp && (answer.readUInt16BE(2) & 0x0200) !== 0) {
      // No answer over TCP in time: the client gets the truncated UDP answer (TC set) and may ask over TCP itself.
      const full = await tcpExchange(got.upstream, query, deadline).catch(() => undefined);
      if (full !== undefined) answer = full;
    }
    const out = Buffer.from(answer);
    out.writeUInt16BE(clientId, 0);
    return out;
  }

  private raceUdp(
    query: Buffer,
    deadline: number,
  ): Promise<{ answer: Buffer; upstream: Upstream } | undefined> {
    const step = this.timeoutMs / this.upstreams.length;
    return new Promise((resolve) => {
      const cleanups: (() => void)[] = [];
      let settled = false;
      const finish = (v: { answer: Buffer; upstream: Upstream } | undefined): void => {
        if (settled) return;
        settled = true;
        for (const c of cleanups) c();
        resolve(v);
      };
      const overall = setTimeout(() => finish(undefined), Math.max(0, deadline - Date.now()));
      cleanups.push(() => clearTimeout(overall));
      this.upstreams.forEach((up, i) => {
        const start = setTimeout(() => {
          if (settled) return;
          const stop = udpAttempt(up, query, (answer) => finish({ answer, upstream: up }));
          cleanups.push(stop);
        }, i * step);
        cleanups.push(() => clearTimeout(start));
      });
    });
  }
}

/** Sends once to `up`; calls `onAnswer` with a matching reply. Returns a stopper. */
function udpAttempt(up: Upstream, query: Buffer, onAnswer: (b: Buffer) => void): () => void {
  const id = randomInt(0x10000);
  const q = Buffer.from(query);
  q.writeUInt16BE(id, 0);
  const sock = createSocket(isIP(up.address) === 6 ? 'udp6' : 'udp4');
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    sock.close();
  };
  sock.on('error', close);
  sock.on('message', (msg, rinfo) => {
    if (rinfo.address !== up.address || rinfo.port !== up.port) return;
    if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg.readUInt16BE(2) & 0x8000) === 0) return;
    close();
    onAnswer(msg);
  });
  sock.send(q, up.port, up.address, (err) => {
    if (err) close();
  });
  return close;
}

/** One length-prefixed query/answer over TCP (RFC 1035 §4.2.2), bounded by `deadline`. */
function tcpExchange(up: Upstream, query: Buffer, deadline: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: up.address, port: up.port });
    const timer = setTimeout(
      () => fail(new Error('upstream TCP timeout')),
      Math.max(0, deadline - Date.now()),
    );
    const framer = new TcpFramer();
    function fail(err: Error): void {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    }
    sock.on('error', fail);
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      const msg = framer.next();
      if (msg !== undefined) {
        clearTimeout(timer);
        sock.destroy();
        resolve(msg);
      }
    });
    sock.on('end', () => fail(new Error('upstream closed the TCP connection early')));
  });
}
