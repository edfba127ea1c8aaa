import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { type ConsulHandle, startConsul } from '../../harness/consul.js';
import { waitForView } from '../../unit/discovery/catalog-conformance.js';

const exec = promisify(execFile);

async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args]);
  return stdout;
}

/** `dig +short` lines as a sorted list (answer order is random on both servers). */
async function short(port: number, ...args: string[]): Promise<string[]> {
  return (await dig(port, '+short', ...args))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}

describe('berth DNS answers what Consul DNS answers, over the same catalog', () => {
  let consul: ConsulHandle;
  let catalog: ConsulCatalog;
  let dns: DnsServer;
  let berthPort: number;
  const svc = `web${randomBytes(2).toString('hex')}`;
  const big = `many${randomBytes(2).toString('hex')}`;

  before(async () => {
    consul = await startConsul();
    catalog = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: consul.nodeName,
      wait: '5s',
    });
    const mk = (i: number, o: Partial<ServiceInstance>): ServiceInstance => ({
      id: `${svc}-${i}`,
      service: svc,
      tags: i % 2 === 0 ? ['v1'] : ['v2'],
      meta: {},
      address: `127.0.0.${10 + i}`,
      port: 8000 + i,
      node: consul.nodeName,
      health: 'passing',
      ...o,
    });
    // One on the node's own address (SRV target is the node name), two elsewhere, one critical (left out).
    await catalog.register(mk(0, { address: '127.0.0.1' }));
    await catalog.register(mk(1, {}));
    await catalog.register(mk(2, {}));
    await catalog.register(mk(3, { health: 'critical' }));
    for (let i = 0; i < 40; i++) {
      await catalog.register({
        ...mk(100 + i, {}),
        id: `${big}-${i}`,
        service: big,
        address: `127.0.1.${i + 1}`,
      });
    }
    await waitForView(
      catalog,
      (v) =>
        !v.stale &&
        v.instances.filter((i) => i.service === big).length === 40 &&
        v.instances.some((i) => i.id === `${svc}-3` && i.health === 'critical'),
      'all instances in the view',
      20_000,
    );
    dns = new DnsServer({
      view: () => catalog.view(),
      nodeName: consul.nodeName,
      nodeAddress: '127.0.0.1',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
    });
    await dns.start();
    berthPort = dns.addresses()[0]?.port ?? 0;
  });
  after(async () => {
    await dns?.close();
    await catalog?.close();
    await consul?.stop();
  });

  for (const transport of ['+notcp', '+tcp']) {
    test(`A records match Consul's over ${transport === '+tcp' ? 'TCP' : 'UDP'} (healthy only)`, async () => {
      const ours = await short(berthPort, transport, `${svc}.service.consul`, 'A');
      const theirs = await short(consul.dnsPort, transport, `${svc}.service.consul`, 'A');
      assert.deepEqual(ours, ['127.0.0.1', '127.0.0.11', '127.0.0.12']);
      assert.deepEqual(ours, theirs);
    });

    test(`SRV ports and targets match Consul's over ${transport === '+tcp' ? 'TCP' : 'UDP'}`, async () => {
      for (const name of [
        `${svc}.service.consul`,
        `_${svc}._tcp.service.consul`,
        `v1.${svc}.service.dc1.consul`,
      ]) {
        const ours = await short(berthPort, transport, name, 'SRV');
        const theirs = await short(consul.dnsPort, transport, name, 'SRV');
        assert.ok(ours.length > 0, `${name} has SRV records`);
        // Compare port and target; priority/weight are both 1 1 on each side too.
        assert.deepEqual(ours, theirs, name);
      }
      // The SRV targets resolve to the same addresses on both servers.
      const targets = (await short(berthPort, `${svc}.service.consul`, 'SRV')).map(
        (l) => l.split(' ')[3] ?? '',
      );
      for (const t of targets) {
        assert.deepEqual(
          await short(berthPort, transport, t, 'A'),
          await short(consul.dnsPort, transport, t, 'A'),
          t,
        );
      }
    });
  }

  test('node lookups and unknown names agree', async () => {
    assert.deepEqual(
      await short(berthPort, `${consul.nodeName}.node.consul`, 'A'),
      await short(consul.dnsPort, `${consul.nodeName}.node.consul`, 'A'),
    );
    const ours = await dig(berthPort, `nope${svc}.service.consul`, 'A');
    const theirs = await dig(consul.dnsPort, `nope${svc}.service.consul`, 'A');
    assert.match(ours, /status: NXDOMAIN/);
    assert.match(theirs, /status: NXDOMAIN/);
  });

  test('a big answer is truncated over UDP with TC set and complete over TCP', async () => {
    const udp = await dig(berthPort, '+ignore', '+bufsize=512', `${big}.service.consul`, 'A');
    assert.match(udp, /flags: qr aa[^;]* tc/, 'TC flag set');
    const m = /ANSWER: (\d+)/.exec(udp);
    assert.ok(m && Number(m[1]) < 40, 'a partial answer over UDP');
    const tcp = await short(berthPort, '+tcp', `${big}.service.consul`, 'A');
    assert.equal(tcp.length, 40);
    assert.deepEqual(tcp, await short(consul.dnsPort, '+tcp', `${big}.service.consul`, 'A'));
  });

  test('with Consul gone, berth keeps answering from the stale view', async () => {
    await consul.stop();
    await waitForView(catalog, (v) => v.stale, 'the view to turn stale', 15_000);
    const staleBefore = dns.counters.staleAnswers;
    assert.deepEqual(await short(berthPort, `${svc}.service.consul`, 'A'), [
      '127.0.0.1',
      '127.0.0.11',
      '127.0.0.12',
    ]);
    assert.ok(dns.counters.staleAnswers > staleBefore, 'stale answers are counted');
  });
});
