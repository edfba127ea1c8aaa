import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import type { CatalogView, ServiceInstance } from '../../../sidecar/discovery/types.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { buildQuery, decode, Packet, rdata, tcpExchange, udpExchange } from './dns-client.js';

const T = Packet.TYPE;
const NOERROR = 0;
const FORMERR = 1;
const SERVFAIL = 2;
const NXDOMAIN = 3;
const REFUSED = 5;

function inst(i: number, o: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    id: `web-${i}`,
    service: 'web',
    tags: i % 2 === 0 ? ['even'] : ['odd'],
    meta: {},
    address: `10.0.0.${i + 1}`,
    port: 8000 + i,
    node: 'node-a',
    nodeAddress: '10.0.0.1',
    health: 'passing',
    datacenter: 'dc1',
    ...o,
  };
}

describe('DnsServer answers from the catalog', () => {
  let view: CatalogView;
  let server: DnsServer;
  let port: number;
  const q = async (name: string, type: number, edns?: number) => {
    const reply = await udpExchange(port, buildQuery(name, type, edns !== undefined ? { edns } : {}));
    assert.ok(reply, `no answer for ${name}`);
    return decode(reply);
  };
  const addrs = (d: ReturnType<typeof decode>) => d.answers.map((r) => String(rdata(r).address)).sort();

  before(async () => {
    view = {
      index: 7,
      stale: false,
      instances: [
        inst(0),
        inst(1),
        inst(2, { health: 'warning' }),
        inst(3, { health: 'critical' }),
        inst(4, { health: 'maintenance' }),
        inst(5, { service: 'db', address: 'fd00::5', port: 5432, tags: ['primary'] }),
        ...Array.from({ length: 60 }, (_, i) => inst(100 + i, { service: 'many', address: `10.1.${i}.1` })),
      ],
    };
    server = new DnsServer({
      view: () => view,
      nodeName: 'node-a',
      nodeAddress: '10.0.0.1',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
      ttl: { service: 5, perService: { 'd*': 30 } },
      containerNames: () => new Map([['box-1', '10.9.9.9']]),
    });
    await server.start();
    port = server.addresses()[0]?.port ?? 0;
  });
  after(async () => {
    await server.close();
  });

  test('A: passing and warning instances, not critical or maintenance', async () => {
    const d = await q('web.service.consul', T.A);
    assert.equal(d.rcode, NOERROR);
    assert.ok(d.aa);
    assert.deepEqual(addrs(d), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.equal(d.answers[0]?.ttl, 5);
  });

  test('names are case-insensitive and may carry the datacenter', async () => {
    assert.deepEqual(addrs(await q('WEB.Service.DC1.Consul', T.A)), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.equal((await q('web.service.dc9.consul', T.A)).rcode, NXDOMAIN);
  });

  test('tag filter and RFC 2782 SRV names', async () => {
    assert.deepEqual(addrs(await q('even.web.service.consul', T.A)), ['10.0.0.1', '10.0.0.3']);
    const srv = await q('_web._odd.service.consul', T.SRV);
    assert.deepEqual(
      srv.answers.map((r) => rdata(r).port),
      [8001],
    );
    const any = await q('_web._tcp.service.consul', T.SRV);
    assert.equal(any.answers.length, 3, '_tcp means any tag');
  });

  test('SRV targets follow Consul: <hex>.addr.<dc>.<domain>, with glue A records', async () => {
    const d = await q('web.service.consul', T.SRV);
    const targets = new Map(d.answers.map((r) => [rdata(r).port, rdata(r).target]));
    assert.equal(targets.get(8000), '0a000001.addr.dc1.consul');
    assert.equal(targets.get(8001), '0a000002.addr.dc1.consul');
    const glue = new Map(d.additionals.map((r) => [r.name, rdata(r).address]));
    assert.equal(glue.get('0a000001.addr.dc1.consul'), '10.0.0.1');
    assert.equal(glue.get('0a000002.addr.dc1.consul'), '10.0.0.2');
    // The targets resolve too.
    assert.deepEqual(addrs(await q('0a000002.addr.dc1.consul', T.A)), ['10.0.0.2']);
    assert.deepEqual(addrs(await q('node-a.node.consul', T.A)), ['10.0.0.1']);
  });

  test('AAAA for IPv6 instances, per-service TTL by prefix', async () => {
    const d = await q('db.service.consul', T.AAAA);
    assert.deepEqual(addrs(d), ['fd00::5']);
    assert.equal(d.answers[0]?.ttl, 30);
  });

  test('NXDOMAIN for names that do not exist, NODATA for names without that type, both with the SOA', async () => {
    const nx = await q('nope.service.consul', T.A);
    assert.equal(nx.rcode, NXDOMAIN);
    assert.equal(nx.authorities[0]?.type, T.SOA);
    assert.equal(nx.answers.length, 0);
    const nodata = await q('db.service.consul', T.A);
    assert.equal(nodata.rcode, NOERROR);
    assert.equal(nodata.answers.length, 0);
    assert.equal(nodata.authorities[0]?.type, T.SOA);
    assert.equal((await q('web.service.consul', T.TXT)).answers.length, 0);
    assert.equal((await q('a.b.c.consul', T.A)).rcode, NXDOMAIN);
    const critOnly = await q('_web._nothing.service.consul', T.SRV);
    assert.equal(critOnly.rcode, NXDOMAIN);
  });

  test('container names answer in the domain', async () => {
    assert.deepEqual(addrs(await q('box-1.consul', T.A)), ['10.9.9.9']);
    assert.equal((await q('box-2.consul', T.A)).rcode, NXDOMAIN);
  });

  test('answers come in random order', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 30 && firsts.size < 2; i++) {
      firsts.add(String(rdata((await q('web.service.consul', T.A)).answers[0] ?? ({} as never)).address));
    }
    assert.ok(firsts.size >= 2, 'the first address varies');
  });

  test('UDP without EDNS: 512 bytes, TC set, as many whole records as fit; with EDNS the advertised size', async () => {
    const small = await q('many.service.consul', T.A);
    assert.ok(small.tc, 'TC set');
    assert.ok(small.size <= 512);
    assert.ok(
      small.answers.length > 0 && small.answers.length < 60,
      `partial answer (${small.answers.length})`,
    );
    assert.equal(small.optSize, undefined, 'no OPT when the query had none');
    const big = await q('many.service.consul', T.A, 4096);
    assert.equal(big.tc, false);
    assert.equal(big.answers.length, 60);
    assert.equal(big.optSize, 4096, 'OPT in the reply');
    const mid = await q('many.service.consul', T.A, 700);
    assert.ok(mid.tc && mid.size <= 700 && mid.answers.length > small.answers.length);
  });

  test('TCP carries the full answer', async () => {
    const d = decode(await tcpExchange(port, buildQuery('many.service.consul', T.SRV)));
    assert.equal(d.tc, false);
    assert.equal(d.answers.length, 60);
    assert.equal(d.additionals.length, 60);
  });

  test('a stale view still answers, and is counted', async () => {
    const before = server.counters.staleAnswers;
    view = { ...view, stale: true };
    try {
      assert.equal((await q('web.service.consul', T.A)).answers.length, 3);
    } finally {
      view = { ...view, stale: false };
    }
    assert.equal(server.counters.staleAnswers, before + 1);
  });

  test('EDNS version other than 0 gets BADVERS', async () => {
    const reply = await udpExchange(
      port,
      buildQuery('web.service.consul', T.A, { edns: 1232, ednsVersion: 1 }),
    );
    assert.ok(reply);
    const d = decode(reply);
    assert.equal(d.rcode, 16, 'extended rcode BADVERS');
  });

  test('malformed queries: FORMERR for two questions, silence for garbage and for responses', async () => {
    const two = buildQuery('web.service.consul', T.A);
    two.writeUInt16BE(2, 4);
    const r = await udpExchange(port, two);
    assert.ok(r);
    assert.equal(decode(r).rcode, FORMERR);
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 300), undefined);
    const resp = buildQuery('web.service.consul', T.A);
    resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
    assert.equal(await udpExchange(port, resp, 300), undefined);
    assert.ok(server.counters.malformed >= 3);
  });

  test('names outside the domain are REFUSED without upstreams; counters track types and rcodes', async () => {
    assert.equal((await q('example.com', T.A)).rcode, REFUSED);
    const c = server.counters.snapshot();
    assert.ok((c.queriesByType.A ?? 0) > 5);
    assert.ok((c.queriesByType.SRV ?? 0) > 0);
    assert.ok((c.responsesByRcode.NXDOMAIN ?? 0) > 0);
    assert.ok(c.truncated > 0);
  });
});

describe('DnsServer forwarding and rate limiting', () => {
  let upstream: DnsServer;
  let server: DnsServer;
  let silent: ReturnType<typeof createSocket>;
  let port: number;
  before(async () => {
    // The upstream is a real resolver of its own domain (another DnsServer).
    upstream = new DnsServer({
      view: () => ({
        index: 1,
        stale: false,
        instances: [
          inst(0, { service: 'far' }),
          ...Array.from({ length: 50 }, (_, i) => inst(200 + i, { service: 'wide', address: `10.2.${i}.1` })),
        ],
      }),
      domain: 'upstream.test.',
      nodeName: 'up',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
    });
    await upstream.start();
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    server = new DnsServer({
      view: () => ({ index: 1, stale: false, instances: [] }),
      nodeName: 'node-a',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [`127.0.0.1:${upstream.addresses()[0]?.port}`],
      rateLimit: { qps: 1, burst: 5 },
    });
    await server.start();
    port = server.addresses()[0]?.port ?? 0;
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
    silent?.close();
  });

  test('other names are forwarded to the upstream and the answer relayed with our id', async () => {
    const query = buildQuery('far.service.upstream.test', T.A, { id: 4242 });
    const r = await udpExchange(port, query);
    assert.ok(r);
    const d = decode(r);
    assert.equal(d.id, 4242);
    assert.equal(d.rcode, NOERROR);
    assert.deepEqual(
      d.answers.map((a) => rdata(a).address),
      ['10.0.0.1'],
    );
    assert.equal(server.counters.forwarded, 1);
  });

  test('a big forwarded answer: TC for a 512-byte UDP client, complete for a TCP client (upstream retried over TCP)', async () => {
    const udp = await udpExchange(port, buildQuery('wide.service.upstream.test', T.A));
    assert.ok(udp);
    const u = decode(udp);
    assert.ok(u.tc && udp.length <= 512);
    const tcp = decode(await tcpExchange(port, buildQuery('wide.service.upstream.test', T.A)));
    assert.equal(tcp.tc, false);
    assert.equal(tcp.answers.length, 50);
  });

  test('an upstream that never answers gives SERVFAIL after the timeout', async () => {
    const s = new DnsServer({
      view: () => ({ index: 1, stale: false, instances: [] }),
      nodeName: 'n',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [`127.0.0.1:${silent.address().port}`],
      upstreamTimeoutMs: 300,
      rateLimit: false,
    });
    await s.start();
    try {
      const started = Date.now();
      const r = await udpExchange(s.addresses()[0]?.port ?? 0, buildQuery('example.org', T.A), 3000);
      assert.ok(r);
      assert.equal(decode(r).rcode, SERVFAIL);
      assert.ok(Date.now() - started >= 250);
      assert.equal(s.counters.forwardTimeouts, 1);
    } finally {
      await s.close();
    }
  });

  test('a TCP client over its rate is told REFUSED', async () => {
    let refused = 0;
    for (let i = 0; i < 8; i++) {
      if (decode(await tcpExchange(port, buildQuery('y.service.consul', T.A))).rcode === REFUSED) refused++;
    }
    assert.ok(refused >= 2, `refused ${refused} of 8`);
  });

  test('a client over its rate gets no UDP answers, and that is counted', async () => {
    let answered = 0;
    for (let i = 0; i < 10; i++) {
      if ((await udpExchange(port, buildQuery('x.service.consul', T.A), 200)) !== undefined) answered++;
    }
    assert.ok(answered <= 6, `answered ${answered} of 10 with burst 5`);
    assert.ok(server.counters.rateLimited >= 4);
  });
});

describe('DnsServer container names in their own domain', () => {
  test('containers answer under containerDomain, services stay under the domain', async () => {
    const s = new DnsServer({
      view: () => ({ index: 1, stale: false, instances: [inst(0)] }),
      nodeName: 'n',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      containerDomain: 'berth.',
      containerNames: () => new Map([['api-1', 'fd00::7']]),
    });
    await s.start();
    try {
      const port = s.addresses()[0]?.port ?? 0;
      const r = await udpExchange(port, buildQuery('api-1.berth', T.AAAA));
      assert.ok(r);
      assert.deepEqual(
        decode(r).answers.map((a) => rdata(a).address),
        ['fd00::7'],
      );
      const notHere = await udpExchange(port, buildQuery('api-1.consul', T.AAAA));
      assert.ok(notHere);
      assert.equal(decode(notHere).rcode, NXDOMAIN);
      const svc = await udpExchange(port, buildQuery('web.service.consul', T.A));
      assert.ok(svc);
      assert.equal(decode(svc).answers.length, 1);
    } finally {
      await s.close();
    }
  });
});
