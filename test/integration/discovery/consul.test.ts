import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import { type ConsulHandle, sharedConsul, startConsul } from '../../harness/consul.js';
import {
  catalogConformance,
  findIn,
  sampleInstance,
  waitForView,
} from '../../unit/discovery/catalog-conformance.js';
import { TcpRelay } from './tcp-relay.js';

/** Timings short enough for tests; production defaults are in the README. */
const FAST = {
  wait: '5s',
  backoffMinMs: 100,
  backoffMaxMs: 800,
  requestTimeoutMs: 1500,
  resyncIntervalMs: 2000,
};

catalogConformance('consul (dev agent)', async () => {
  // The run's shared agent: the suite's instances have names of their own, and nothing here removes others'.
  const consul = await sharedConsul();
  const catalog = new ConsulCatalog({
    host: '127.0.0.1',
    port: consul.httpPort,
    nodeName: consul.nodeName,
    ...FAST,
  });
  await waitForView(catalog, (v) => !v.stale, 'the first view from Consul');
  return {
    catalog,
    nodeName: consul.nodeName,
    async cleanup() {
      await catalog.close();
      await consul.stop();
    },
  };
});

async function agentServices(
  consul: ConsulHandle,
): Promise<Record<string, { Meta?: Record<string, string> }>> {
  const res = await fetch(`http://${consul.httpAddr}/v1/agent/services`);
  return (await res.json()) as Record<string, { Meta?: Record<string, string> }>;
}

describe('ConsulCatalog while Consul is down', () => {
  const relay = new TcpRelay();
  let first: ConsulHandle | undefined;
  let second: ConsulHandle | undefined;
  let catalog: ConsulCatalog | undefined;
  const nodeName = `berth-host-${randomBytes(3).toString('hex')}`;

  before(async () => {
    await relay.start();
    first = await startConsul();
    relay.retarget(first.httpPort);
    catalog = new ConsulCatalog({ host: '127.0.0.1', port: relay.port, nodeName, ...FAST });
  });
  after(async () => {
    await catalog?.close();
    await relay.stop();
    await first?.stop();
    await second?.stop();
  });

  test('keeps the last view as stale, queues writes, and converges on a new (empty) Consul', async () => {
    assert.ok(catalog && first);
    const a = sampleInstance(nodeName);
    await catalog.register(a);
    await waitForView(catalog, (v) => !v.stale && findIn(v, a.id) !== undefined, 'a registered');

    await first.stop();
    relay.retarget(undefined);
    const staleView = await waitForView(catalog, (v) => v.stale, 'the view to turn stale', 15_000);
    assert.ok(findIn(staleView, a.id), 'the last view is kept while Consul is down');
    assert.equal(catalog.view().stale, true);

    const b = sampleInstance(nodeName, { service: 'api', port: 9000 });
    const started = Date.now();
    await catalog.register(b);
    await catalog.setHealth(a.id, 'critical', 'went bad while Consul was away');
    assert.ok(Date.now() - started < 1000, `writes do not wait on Consul (${Date.now() - started} ms)`);
    assert.ok(catalog.pendingWrites >= 2, 'writes are queued');
    assert.equal(findIn(catalog.view(), b.id), undefined, 'the view is what Consul said, not what is queued');

    // A restarted dev agent has lost everything: the retry loop and anti-entropy must re-register what we own.
    second = await startConsul();
    relay.retarget(second.httpPort);
    const v = await waitForView(
      catalog,
      (x) => !x.stale && findIn(x, a.id)?.health === 'critical' && findIn(x, b.id)?.health === 'passing',
      'both instances on the new Consul',
      30_000,
    );
    assert.equal(findIn(v, b.id)?.port, 9000);
    assert.equal(findIn(v, a.id)?.node, second.nodeName);
    const services = await agentServices(second);
    assert.equal(services[a.id]?.Meta?.['berth-node'], nodeName);
    assert.equal(services[b.id]?.Meta?.['berth-node'], nodeName);
    const owned = (await catalog.owned()).map((i) => i.id).sort();
    assert.deepEqual(owned, [a.id, b.id].sort());
    // The queue drains (polled: the TTL heartbeat queues check refreshes of its own every heartbeatMs).
    for (let i = 0; i < 50 && catalog.pendingWrites > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(catalog.pendingWrites, 0);
  });

  test('a deregistration while Consul is away is applied when it is back', async () => {
    assert.ok(catalog && second);
    const c = sampleInstance(nodeName, { service: 'gone' });
    await catalog.register(c);
    await waitForView(catalog, (v) => findIn(v, c.id) !== undefined, 'c registered');
    relay.retarget(undefined);
    await waitForView(catalog, (v) => v.stale, 'stale', 15_000);
    await catalog.deregister(c.id);
    relay.retarget(second.httpPort);
    await waitForView(
      catalog,
      (v) => !v.stale && findIn(v, c.id) === undefined,
      'c gone from Consul',
      30_000,
    );
    assert.equal((await agentServices(second))[c.id], undefined);
  });
});

describe('ConsulCatalog TTL heartbeat', () => {
  let consul: ConsulHandle | undefined;
  let catalog: ConsulCatalog | undefined;
  after(async () => {
    await catalog?.close();
    await consul?.stop();
  });

  test('instances stay passing past their check TTL while berth runs, and go critical when it stops', async () => {
    consul = await startConsul();
    catalog = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: consul.nodeName,
      ...FAST,
      checkTtl: '2s',
      heartbeatMs: 500,
    });
    const inst = sampleInstance(consul.nodeName);
    await catalog.register(inst);
    await waitForView(catalog, (v) => findIn(v, inst.id)?.health === 'passing', 'passing');
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(findIn(catalog.view(), inst.id)?.health, 'passing', 'still passing after 1.75 TTLs');
    await catalog.close();
    // Without berth feeding it, the TTL check expires: no ghost stays healthy.
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline) {
      const res = await fetch(`http://${consul.httpAddr}/v1/agent/checks`);
      const checks = (await res.json()) as Record<string, { Status: string }>;
      status = checks[`service:${inst.id}`]?.Status ?? '';
      if (status === 'critical') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 'critical');
  });
});
