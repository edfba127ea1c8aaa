import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { buildQuery, decode, Packet, rdata } from './dns-client.js';

const T = Packet.TYPE;
const udp = { address: '127.0.0.1', transport: 'udp' as const };
const tcp = { address: '127.0.0.1', transport: 'tcp' as const };

function inst(i: number, o: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    id: `api-${i}`,
    service: 'api',
    tags: [],
    meta: {},
    address: `10.2.0.${i + 1}`,
    port: 80,
    node: 'node-a',
    health: 'passing',
    ...o,
  };
}

/**
 * The server caches encoded answers per exact query and view: these are the
 * behaviours that cache must not change.
 */
describe('DnsServer answer cache', () => {
  let catalog: LocalCatalog;
  let server: DnsServer;
  const names = new Map<string, string>([['box', '10.9.0.1']]);
  let containers: ReadonlyMap<string, string> = names;

  before(async () => {
    catalog = new LocalCatalog({ nodeName: 'node-a' });
    for (let i = 0; i < 3; i++) await catalog.register(inst(i));
    server = new DnsServer({
      view: () => catalog.view(),
      nodeName: 'node-a',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
      containerNames: () => containers,
    });
  });
  after(async () => {
    await server.close();
    await catalog.close();
  });

  const ask = async (q: Buffer, client: typeof udp | typeof tcp = udp) => {
    const out = await server.handle(q, client);
    assert.ok(out);
    return decode(out);
  };
  const addrs = (d: ReturnType<typeof decode>) => d.answers.map((r) => String(rdata(r).address)).sort();

  test('the same query bytes under another id get their own id back, and are counted', async () => {
    const before = server.counters.snapshot();
    for (const id of [1, 2, 0xfffe]) {
      const d = await ask(buildQuery('api.service.consul', T.A, { id }));
      assert.equal(d.id, id);
      assert.deepEqual(addrs(d), ['10.2.0.1', '10.2.0.2', '10.2.0.3']);
    }
    const after = server.counters.snapshot();
    assert.equal((after.queriesByType.A ?? 0) - (before.queriesByType.A ?? 0), 3);
  });

  test('a change in the catalog is answered at once (no stale cached answer)', async () => {
    const q = buildQuery('api.service.consul', T.A, { id: 7 });
    assert.equal((await ask(q)).answers.length, 3);
    await catalog.setHealth('api-1', 'critical');
    assert.deepEqual(addrs(await ask(q)), ['10.2.0.1', '10.2.0.3']);
    await catalog.deregister('api-0');
    assert.deepEqual(addrs(await ask(q)), ['10.2.0.3']);
    await catalog.deregister('api-2');
    assert.equal((await ask(q)).rcode, 3, 'NXDOMAIN once the last usable instance is gone');
    await catalog.register(inst(0));
    await catalog.setHealth('api-1', 'passing');
    assert.deepEqual(addrs(await ask(q)), ['10.2.0.1', '10.2.0.2']);
  });

  test('a new container-name map is answered at once', async () => {
    const q = buildQuery('box.consul', T.A);
    assert.deepEqual(addrs(await ask(q)), ['10.9.0.1']);
    containers = new Map([['box', '10.9.0.2']]);
    assert.deepEqual(addrs(await ask(q)), ['10.9.0.2']);
  });

  test('every instance comes first sometimes (rotation), the set stays the same', async () => {
    const q = buildQuery('api.service.consul', T.A);
    const firsts = new Set<string>();
    for (let i = 0; i < 200 && firsts.size < 2; i++) {
      const d = await ask(q);
      assert.deepEqual(addrs(d), ['10.2.0.1', '10.2.0.2']);
      firsts.add(String(rdata(d.answers[0] ?? ({} as never)).address));
    }
    assert.equal(firsts.size, 2);
  });

  test('UDP and TCP, with and without EDNS, are cached apart (different size limits)', async () => {
    for (let i = 2; i < 60; i++) await catalog.register(inst(i, { address: `10.3.${i}.1` }));
    const plain = buildQuery('api.service.consul', T.A, { id: 9 });
    const small = await ask(plain);
    assert.ok(small.tc && small.size <= 512);
    const big = await ask(plain, tcp);
    assert.equal(big.tc, false);
    assert.equal(big.answers.length, 60);
    const again = await ask(plain);
    assert.ok(again.tc && again.size <= 512, 'the UDP answer is still the truncated one');
    const edns = await ask(buildQuery('api.service.consul', T.A, { edns: 4096 }));
    assert.equal(edns.answers.length, 60);
    assert.equal(edns.optSize, 4096);
  });

  test('case is echoed as asked, per spelling', async () => {
    const d = await ask(buildQuery('API.Service.Consul', T.A));
    assert.equal(d.answers[0]?.name, 'API.Service.Consul');
    const e = await ask(buildQuery('api.service.consul', T.A));
    assert.equal(e.answers[0]?.name, 'api.service.consul');
  });
});

/** Issue 12 item 16: the cache is bounded by the bytes it holds, not only by its number of keys. */
describe('DnsServer answer cache is bounded by bytes', () => {
  const view = {
    index: 1,
    stale: false,
    // 60 records: every rotation is cached, ~1 KB each.
    instances: Array.from({ length: 60 }, (_, i) => inst(i, { address: `10.3.0.${i + 1}` })),
  };

  /** `api.service.consul` spelled with the case pattern of the bits of n: a distinct cache key each. */
  const spelling = (n: number): string =>
    [...'apiservice']
      .map((ch, i) => ((n >> i) & 1 ? ch.toUpperCase() : ch))
      .join('')
      .replace(/^(...)/, '$1.')
      .concat('.consul');

  test('many spellings and rotations of big answers stay under answerCacheMaxBytes; answers stay right', async () => {
    const server = new DnsServer({
      view: () => view,
      nodeName: 'node-a',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
      answerCacheMaxBytes: 64 * 1024,
    });
    try {
      let one = 0;
      for (let n = 0; n < 1024; n++) {
        // Each spelling a few times, so several of its rotations get encoded and kept.
        for (let k = 0; k < 4; k++) {
          const out = await server.handle(buildQuery(spelling(n), T.A, { edns: 4096 }), udp);
          assert.ok(out);
          one = out.length;
          if (k === 0 && n % 100 === 0) assert.equal(decode(out).answers.length, 60);
        }
      }
      const stats = server.answerCacheStats();
      assert.ok(one > 900, `answers are ~1 KB (${one})`);
      assert.equal(stats.maxBytes, 64 * 1024);
      assert.ok(stats.bytes <= 64 * 1024, `the cache holds ${stats.bytes} bytes`);
      assert.ok(stats.entries > 0 && stats.bytes >= one, 'recent answers are still cached');
    } finally {
      await server.close();
    }
  });

  test('the default is 16 MiB', () => {
    const server = new DnsServer({ view: () => view, nodeName: 'n', upstreams: [] });
    assert.equal(server.answerCacheStats().maxBytes, 16 * 1024 * 1024);
  });
});
