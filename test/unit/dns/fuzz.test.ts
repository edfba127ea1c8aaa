import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CatalogView } from '../../../sidecar/discovery/types.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { buildQuery, decode, Packet, tcpExchange, udpExchange } from './dns-client.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const view: CatalogView = {
  index: 1,
  stale: false,
  instances: Array.from({ length: 20 }, (_, i) => ({
    id: `w${i}`,
    service: 'web',
    tags: ['t'],
    meta: {},
    address: `10.0.0.${i + 1}`,
    port: 80,
    node: 'n',
    health: 'passing' as const,
  })),
};

describe('DnsServer survives hostile input', () => {
  let server: DnsServer;
  let port: number;
  const seed = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 1_000_000);
  before(async () => {
    server = new DnsServer({
      view: () => view,
      nodeName: 'n',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
    });
    await server.start();
    port = server.addresses()[0]?.port ?? 0;
  });
  after(async () => {
    await server.close();
  });

  test(`random bytes and mutated queries never crash the handler (seed ${seed})`, async () => {
    const rnd = prng(seed);
    const byte = () => Math.floor(rnd() * 256);
    const valid = [
      buildQuery('web.service.consul', Packet.TYPE.A),
      buildQuery('_web._tcp.service.consul', Packet.TYPE.SRV, { edns: 1232 }),
      buildQuery('t.web.service.dc1.consul', Packet.TYPE.AAAA, { edns: 4096 }),
      buildQuery('example.com', Packet.TYPE.A),
    ];
    let answered = 0;
    for (let i = 0; i < 4000; i++) {
      let msg: Buffer;
      if (i % 4 === 0) {
        msg = Buffer.from(Array.from({ length: Math.floor(rnd() * 600) }, byte));
      } else {
        msg = Buffer.from(valid[i % valid.length] ?? Buffer.alloc(0));
        const flips = 1 + Math.floor(rnd() * 6);
        for (let f = 0; f < flips && msg.length > 0; f++) msg[Math.floor(rnd() * msg.length)] = byte();
        if (rnd() < 0.2) msg = msg.subarray(0, Math.floor(rnd() * msg.length));
        if (rnd() < 0.1) msg = Buffer.concat([msg, Buffer.from(Array.from({ length: 50 }, byte))]);
      }
      const transport = i % 2 === 0 ? 'udp' : 'tcp';
      const out = await server.handle(msg, { address: '127.0.0.1', transport });
      if (out !== undefined) {
        answered++;
        assert.ok(out.length >= 12, 'an answer has a header');
        assert.ok(transport === 'tcp' || out.length <= 4096, 'UDP answers stay within our advertised size');
        assert.equal(out.readUInt16BE(0), msg.readUInt16BE(0), 'an answer echoes the query id');
        assert.ok(out.readUInt16BE(2) & 0x8000, 'an answer has QR set');
      }
    }
    assert.ok(answered > 100, `some mutated queries were answered (${answered})`);
    assert.equal(server.counters.internalErrors, 0, 'no handler failures');
  });

  test('random datagrams over the network, then the server still answers over UDP and TCP', async () => {
    const rnd = prng(seed + 1);
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(rnd() * 300);
      s.send(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))), port, '127.0.0.1');
    }
    // Half-open and garbage TCP connections too.
    const { connect } = await import('node:net');
    for (let i = 0; i < 20; i++) {
      const c = connect({ host: '127.0.0.1', port });
      c.on('error', () => undefined);
      c.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
      c.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    s.close();
    const udp = await udpExchange(port, buildQuery('web.service.consul', Packet.TYPE.A, { edns: 4096 }));
    assert.ok(udp, 'UDP still answers');
    assert.equal(decode(udp).answers.length, 20);
    const tcp = decode(await tcpExchange(port, buildQuery('web.service.consul', Packet.TYPE.A)));
    assert.equal(tcp.answers.length, 20);
  });
});
