import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { ContainerNameIndex } from '../../../sidecar/dns/container-names.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { buildQuery, decode, Packet, rdata } from './dns-client.js';

/**
 * The server with the scoped name index over real UDP: the same query bytes
 * from two source addresses (127.0.0.2 stands for a container on net A,
 * 127.0.0.3 for one on B) get different answers, and the answer cache never
 * hands one client's answer to the other.
 */
function fromAddress(source: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer to ${source}`));
    }, 2000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.bind({ address: source, port: 0 }, () => s.send(msg, port, '127.0.0.1'));
  });
}

describe('DnsServer with names scoped by client', () => {
  let server: DnsServer;
  let index: ContainerNameIndex;
  let port = 0;
  before(async () => {
    const src = new FakeContainerSource([
      fakeDescriptor({ name: 'client-a', addresses: { a: '127.0.0.2' } }),
      fakeDescriptor({ name: 'client-b', addresses: { b: '127.0.0.3' } }),
      fakeDescriptor({ name: 'db', addresses: { a: '10.89.0.7' }, aliases: { a: ['database'] } }),
      ...[1, 2, 3].map((i) =>
        fakeDescriptor({
          name: `p-api-${i}`,
          addresses: { a: `10.89.0.${10 + i}` },
          labels: { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'api' },
        }),
      ),
    ]);
    index = new ContainerNameIndex(src);
    await index.start();
    server = new DnsServer({
      view: () => ({ index: 1, stale: false, instances: [] }),
      nodeName: 'n',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
      containerScope: (c) => index.scope(c),
    });
    await server.start();
    port = server.addresses()[0]?.port ?? 0;
  });
  after(async () => {
    await server.close();
    await index.close();
  });

  const ask = async (source: string, name: string) =>
    decode(await fromAddress(source, port, buildQuery(name, Packet.TYPE.A)));
  const addrs = (d: ReturnType<typeof decode>) => d.answers.map((r) => String(rdata(r).address));

  test('the same question answers on A and is NXDOMAIN on B, both ways round (no cache leak)', async () => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(addrs(await ask('127.0.0.2', 'db.consul')), ['10.89.0.7']);
      const onB = await ask('127.0.0.3', 'db.consul');
      assert.equal(onB.rcode, 3);
      assert.deepEqual(addrs(onB), []);
    }
    assert.deepEqual(addrs(await ask('127.0.0.2', 'database.consul')), ['10.89.0.7']);
    assert.equal((await ask('127.0.0.3', 'database.consul')).rcode, 3);
    // The host (127.0.0.1, no container) sees every name.
    assert.deepEqual(addrs(await ask('127.0.0.1', 'db.consul')), ['10.89.0.7']);
  });

  test('a bare service name answers every replica, the first one rotating between answers', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const got = addrs(await ask('127.0.0.2', 'api.consul'));
      assert.deepEqual([...got].sort(), ['10.89.0.11', '10.89.0.12', '10.89.0.13']);
      firsts.add(got[0] ?? '');
    }
    assert.ok(firsts.size > 1, `always the same first address: ${[...firsts].join()}`);
  });
});
