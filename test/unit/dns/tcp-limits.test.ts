import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { DnsServer, type DnsServerOptions } from '../../../sidecar/dns/server.js';
import { buildQuery, decode, Packet, udpExchange } from './dns-client.js';

/**
 * Issue 12 item 7: the TCP side of the embedded DNS server under clients
 * that open too many connections, never read, dribble bytes, or make it
 * forward more than it should. Real server on loopback, real sockets.
 */

const T = Packet.TYPE;
const SERVFAIL = 2;

function inst(i: number): ServiceInstance {
  return {
    id: `big-${i}`,
    service: 'big',
    tags: [],
    meta: {},
    address: `10.${(i >> 8) & 255}.${i & 255}.1`,
    port: 8000 + i,
    node: 'node-a',
    health: 'passing',
  };
}

const servers: DnsServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function startServer(o: Partial<DnsServerOptions> = {}): Promise<{ server: DnsServer; port: number }> {
  const instances = Array.from({ length: 500 }, (_, i) => inst(i));
  const view = { index: 1, stale: false, instances };
  const server = new DnsServer({
    view: () => view,
    nodeName: 'node-a',
    listen: [{ address: '127.0.0.1', port: 0 }],
    upstreams: [],
    rateLimit: false,
    ...o,
  });
  servers.push(server);
  await server.start();
  return { server, port: server.addresses()[0]?.port ?? 0 };
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** A TCP connection that collects length-prefixed answers and tells when it was closed. */
function open(
  port: number,
  localAddress = '127.0.0.1',
): Promise<{
  sock: Socket;
  answers: Buffer[];
  closed: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress });
    sockets.push(sock);
    const answers: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve({ sock, answers, closed }));
    sock.once('error', reject);
  });
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const closedWithin = (p: Promise<void>, ms: number): Promise<boolean> =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

const totalQueries = (s: DnsServer): number =>
  Object.values(s.counters.snapshot().queriesByType).reduce((a, b) => a + b, 0);

describe('DNS over TCP: connection caps', () => {
  test('N+1 connections: the extra one is closed, the first N keep being answered', async () => {
    const { server, port } = await startServer({ tcpMaxConnections: 4, tcpMaxConnectionsPerClient: 100 });
    const conns = [];
    for (let i = 0; i < 4; i++) {
      const c = await open(port);
      c.sock.write(frame(buildQuery('big.service.consul', T.A)));
      await waitUntil(`answer on connection ${i}`, () => c.answers.length === 1);
      conns.push(c);
    }
    const extra = await open(port);
    extra.sock.write(frame(buildQuery('big.service.consul', T.A)));
    assert.equal(await closedWithin(extra.closed, 1500), true, 'the 5th connection was not closed');
    assert.equal(extra.answers.length, 0);
    const first = conns[0];
    assert.ok(first);
    first.sock.write(frame(buildQuery('big.service.consul', T.A)));
    await waitUntil('a second answer on the first connection', () => first.answers.length === 2);
    assert.equal(server.counters.snapshot().tcpRefused, 1);
    // A slot freed by a close is taken by the next client.
    first.sock.destroy();
    await first.closed;
    await waitUntil('the server to see the close', () => server.tcpConnections() === 3);
    const next = await open(port);
    next.sock.write(frame(buildQuery('big.service.consul', T.A)));
    await waitUntil('an answer on the connection that took the freed slot', () => next.answers.length === 1);
  });

  test('per source address: the client over its share is closed, another address still gets in', async () => {
    const { port } = await startServer({ tcpMaxConnections: 100, tcpMaxConnectionsPerClient: 2 });
    const a1 = await open(port, '127.0.0.1');
    const a2 = await open(port, '127.0.0.1');
    const a3 = await open(port, '127.0.0.1');
    assert.equal(
      await closedWithin(a3.closed, 1500),
      true,
      'the 3rd connection from 127.0.0.1 was not closed',
    );
    const b1 = await open(port, '127.0.0.2');
    b1.sock.write(frame(buildQuery('big.service.consul', T.A)));
    await waitUntil('an answer to 127.0.0.2', () => b1.answers.length === 1);
    assert.equal(await closedWithin(a1.closed, 50), false);
    assert.equal(await closedWithin(a2.closed, 50), false);
  });
});

describe('DNS over TCP: backpressure and reassembly', () => {
  test('a client that pipelines many queries and never reads: the server stops reading, then answers all once it reads', async (t) => {
    const { server, port } = await startServer({ tcpMaxConnections: 10, tcpMaxConnectionsPerClient: 10 });
    const c = await open(port);
    c.sock.pause();
    // SRV of 500 instances with glue: ~30 KB per answer; 2000 of them would be ~60 MB queued.
    const N = 2000;
    const q = frame(buildQuery('big.service.consul', T.SRV, { id: 7 }));
    const p = await open(port);
    p.sock.write(q);
    await waitUntil('probe answer', () => p.answers.length === 1);
    p.sock.destroy();
    const probe = decode(p.answers[0] as Buffer);
    assert.ok(probe.size > 20_000, `answers are big (${probe.size} bytes)`);
    const before = totalQueries(server);
    // In batches of 16, as a stub resolver's pipelined queries would come.
    const batch = Buffer.concat(Array.from({ length: 16 }, () => q));
    for (let i = 0; i < N / 16; i++) {
      c.sock.write(batch);
      await new Promise((r) => setTimeout(r, 4));
    }
    // Let the server read what it will; a bounded server stops well before N.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await closedWithin(c.closed, 10), false, 'the server closed a pipelining client');
    const handled = totalQueries(server) - before;
    t.diagnostic(`answered ${handled} of ${N} while unread; ${server.tcpQueuedBytes()} bytes queued`);
    assert.ok(
      handled < N / 2,
      `the server answered ${handled} of ${N} queries for a client that reads nothing`,
    );
    assert.ok(
      server.tcpQueuedBytes() <= 3 * 64 * 1024,
      `${server.tcpQueuedBytes()} bytes queued for one connection`,
    );
    // Reading again drains the queue, the server resumes and answers every query.
    c.sock.resume();
    await waitUntil(`all ${N} answers`, () => c.answers.length === N, 30_000);
    assert.equal(await closedWithin(c.closed, 10), false);
    assert.equal(decode(c.answers[N - 1] as Buffer).id, 7);
  });

  test('a query split into 1-byte TCP chunks is still answered', async () => {
    const { port } = await startServer();
    const c = await open(port);
    c.sock.setNoDelay(true);
    const bytes = frame(buildQuery('big.service.consul', T.A, { id: 99 }));
    for (const b of bytes) {
      c.sock.write(Buffer.of(b));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitUntil('the answer', () => c.answers.length === 1);
    assert.equal(decode(c.answers[0] as Buffer).id, 99);
  });
});

describe('DNS forwarding: in-flight cap', () => {
  let blackhole: UdpSocket | undefined;
  after(() => blackhole?.close());

  test('forwards beyond the cap get SERVFAIL at once and open no upstream socket', async () => {
    // An upstream that counts what reaches it and never answers.
    let received = 0;
    blackhole = createSocket('udp4');
    blackhole.on('message', () => received++);
    await new Promise<void>((r) => blackhole?.bind(0, '127.0.0.1', () => r()));
    const { server, port } = await startServer({
      upstreams: [`127.0.0.1:${blackhole.address().port}`],
      upstreamTimeoutMs: 3000,
      maxForwardsInFlight: 8,
    });
    const started = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        udpExchange(port, buildQuery(`host${i}.example.org`, T.A), 1000).then((r) => ({
          r,
          ms: Date.now() - started,
        })),
      ),
    );
    const quick = replies.filter((x) => x.r !== undefined && decode(x.r).rcode === SERVFAIL && x.ms < 1000);
    assert.equal(quick.length, 12, `${quick.length} of 20 got an immediate SERVFAIL`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received, 8, `the upstream saw ${received} queries`);
    assert.equal(server.counters.snapshot().forwardsRefused, 12);
  });
});
