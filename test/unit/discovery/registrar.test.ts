import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { after, describe, test } from 'node:test';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { Registrar } from '../../../sidecar/discovery/registrar.js';
import type { Catalog, ServiceInstance } from '../../../sidecar/discovery/types.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { freePort } from '../../harness/ports.js';
import { descriptor, waitFor } from './registrar-fixtures.js';

const NODE = 'node-a';
const HOST_IP = '192.0.2.10';
const hex = (n: number): string => n.toString(16).padStart(64, '0');
const pub = (containerPort: number, hostPort: number) => ({
  containerPort,
  hostPort,
  protocol: 'tcp' as const,
  hostIp: '0.0.0.0',
});

function web(n: number, o: Partial<ContainerDescriptor> = {}): ContainerDescriptor {
  return descriptor({
    id: hex(n),
    name: `web${n}`,
    image: 'reg:5000/team/web:1',
    imageName: 'reg:5000/team/web',
    ports: [pub(80, 8000 + n)],
    labels: { SERVICE_TAGS: 'v1,blue', 'berth.lb.mode': 'http' },
    ...o,
  });
}

const find = (cat: Catalog, id: string): ServiceInstance | undefined =>
  cat.view().instances.find((i) => i.id === id);

describe('Registrar over LocalCatalog', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(opts: { drainMs?: number; eventBuffer?: number } = {}) {
    const source = new FakeContainerSource();
    const catalog = new LocalCatalog({ nodeName: NODE });
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: NODE, hostIp: HOST_IP },
      drainMs: opts.drainMs ?? 0,
      ...(opts.eventBuffer !== undefined ? { eventBuffer: opts.eventBuffer } : {}),
    });
    cleanups.push(async () => {
      await registrar.close();
      await catalog.close();
    });
    return { source, catalog, registrar };
  }

  test('container.started registers with name, tags, port, address and meta; died deregisters; a restart re-registers', async () => {
    const { source, catalog, registrar } = await setup();
    await registrar.start();
    const c = web(1);
    source.emit('container.started', c);
    const id = `${NODE}:web1:80`;
    await waitFor(() => find(catalog, id) !== undefined, 'registration');
    const inst = find(catalog, id);
    assert.equal(inst?.service, 'web');
    assert.deepEqual(inst?.tags, ['v1', 'blue']);
    assert.equal(inst?.address, HOST_IP);
    assert.equal(inst?.port, 8001);
    assert.equal(inst?.node, NODE);
    assert.equal(inst?.health, 'passing');
    assert.deepEqual(inst?.meta, { 'berth-lb-mode': 'http', 'berth-container': c.id });
    assert.equal(inst?.containerId, c.id);
    assert.deepEqual(registrar.registeredIds(c.id), [id]);

    source.emit('container.died', { ...c, state: 'exited' }, { exitCode: 1 });
    await waitFor(() => find(catalog, id) === undefined, 'deregistration on died');
    source.emit('container.started', { ...c, restartCount: 1 });
    await waitFor(() => find(catalog, id) !== undefined, 're-registration on restart');
    source.emit('container.removed', { ...c, state: 'exited' });
    await waitFor(() => find(catalog, id) === undefined, 'deregistration on removed');
    assert.equal(registrar.counters.registered, 2);
  });

  test("the runtime's health check is mirrored: starting → critical, healthy → passing, unhealthy → critical", async () => {
    const { source, catalog, registrar } = await setup();
    await registrar.start();
    const c = web(2, { health: 'starting' });
    const id = `${NODE}:web2:80`;
    source.emit('container.started', c);
    await waitFor(() => find(catalog, id)?.health === 'critical', 'critical while starting');
    source.emit('container.healthy', { ...c, health: 'healthy' });
    await waitFor(() => find(catalog, id)?.health === 'passing', 'passing when healthy');
    source.emit('container.unhealthy', { ...c, health: 'unhealthy' });
    await waitFor(() => find(catalog, id)?.health === 'critical', 'critical when unhealthy');
    // SERVICE_CHECK_INITIAL_STATUS decides the health before the first verdict.
    const d = web(3, {
      health: 'starting',
      env: { SERVICE_CHECK_TTL: '10s', SERVICE_CHECK_INITIAL_STATUS: 'warning' },
    });
    source.emit('container.started', d);
    await waitFor(() => find(catalog, `${NODE}:web3:80`)?.health === 'warning', 'initial status warning');
  });

  test('preStop puts the instances in maintenance and holds the stop for drainMs', async () => {
    const { source, catalog, registrar } = await setup({ drainMs: 300 });
    await registrar.start();
    const c = web(4, { ports: [pub(80, 8004), pub(443, 8444)] });
    source.emit('container.started', c);
    await waitFor(() => registrar.registeredIds(c.id).length === 2, 'two registrations');
    const t0 = Date.now();
    await registrar.preStop(c);
    const waited = Date.now() - t0;
    assert.ok(waited >= 290 && waited < 2000, `waited ${waited} ms`);
    for (const id of registrar.registeredIds(c.id)) assert.equal(find(catalog, id)?.health, 'maintenance');
    // Nothing registered: no wait.
    const t1 = Date.now();
    await registrar.preStop(web(99));
    assert.ok(Date.now() - t1 < 100);
    source.emit('container.died', { ...c, state: 'exited' });
    await waitFor(
      () => registrar.registeredIds(c.id).length === 0 && find(catalog, `${NODE}:web4:80`) === undefined,
      'gone',
    );
  });

  test('a stopping event without preStop drains too', async () => {
    const { source, catalog, registrar } = await setup();
    await registrar.start();
    const c = web(5);
    source.emit('container.started', c);
    await waitFor(() => find(catalog, `${NODE}:web5:80`)?.health === 'passing', 'registered');
    source.emit('container.stopping', c, { graceMs: 10_000 });
    await waitFor(() => find(catalog, `${NODE}:web5:80`)?.health === 'maintenance', 'maintenance');
  });

  test('start reconciles: ghosts of this node removed, missing running containers added, other nodes and stopped containers left', async () => {
    const { source, catalog, registrar } = await setup();
    const running = web(6);
    source.containers.set(running.id, running);
    source.containers.set(hex(7), web(7, { state: 'exited' }));
    const ghost: ServiceInstance = {
      id: `${NODE}:gone:80`,
      service: 'web',
      tags: [],
      meta: {},
      address: HOST_IP,
      port: 9999,
      node: NODE,
      health: 'passing',
    };
    const foreign: ServiceInstance = { ...ghost, id: 'other:x:80', node: 'node-b' };
    await catalog.register(ghost);
    await catalog.register(foreign);
    // Stale fields of a live container are corrected.
    await catalog.register({ ...ghost, id: `${NODE}:web6:80`, port: 1 });
    await registrar.start();
    assert.equal(find(catalog, ghost.id), undefined);
    assert.ok(find(catalog, foreign.id));
    assert.equal(find(catalog, `${NODE}:web6:80`)?.port, 8006);
    assert.equal(find(catalog, `${NODE}:web7:80`), undefined);
    assert.equal(registrar.counters.reconcileRemoved, 1);
    // A manual reconcile with nothing to do changes nothing.
    assert.deepEqual(await registrar.reconcile(), { added: 0, removed: 0, updated: 0 });
  });

  test('an event stream overflow is answered by a relist: the catalog converges', async () => {
    const { source, catalog, registrar } = await setup({ eventBuffer: 2 });
    await registrar.start();
    // Published in one burst, faster than the registrar reads: the subscription overflows.
    for (let i = 10; i < 30; i++) source.emit('container.started', web(i));
    for (let i = 10; i < 20; i++) source.emit('container.died', { ...web(i), state: 'exited' });
    await waitFor(() => registrar.counters.eventOverflows >= 1, 'an overflow');
    await waitFor(() => {
      const ids = catalog.view().instances.map((x) => x.id);
      return ids.length === 10 && ids.every((id) => Number(/web(\d+)/.exec(id)?.[1]) >= 20);
    }, 'catalog = running containers');
    // And the registrar follows events again afterwards.
    source.emit('container.started', web(40));
    await waitFor(() => find(catalog, `${NODE}:web40:80`) !== undefined, 'registration after resync');
  });

  test('labels that would be dropped are counted; ignored and portless containers register nothing', async () => {
    const { source, catalog, registrar } = await setup();
    await registrar.start();
    source.emit('container.started', web(50, { labels: { 'SERVICE_a.b': 'x' } }));
    source.emit('container.started', web(51, { labels: { SERVICE_IGNORE: 'true' } }));
    source.emit('container.started', web(52, { ports: [] }));
    await waitFor(() => registrar.counters.eventsHandled === 3, 'events handled');
    assert.deepEqual(
      catalog.view().instances.map((i) => i.id),
      [`${NODE}:web50:80`],
    );
    assert.equal(registrar.counters.labelWarnings, 1);
  });
});

describe('Registrar runs label-declared checks (SERVICE_CHECK_HTTP|TCP) and feeds the catalog', () => {
  test('HTTP: 2xx passing, 429 warning, 5xx critical; combined with the runtime verdict (worst wins); stops on died', async () => {
    let status = 200;
    let hits = 0;
    const srv = createServer((req, res) => {
      hits++;
      res.statusCode = req.url === '/health' ? status : 404;
      res.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    const source = new FakeContainerSource();
    const catalog = new LocalCatalog({ nodeName: NODE });
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: NODE, hostIp: HOST_IP },
      drainMs: 0,
    });
    try {
      await registrar.start();
      const c = web(70, {
        ports: [{ containerPort: 80, hostPort: port, protocol: 'tcp', hostIp: '127.0.0.1' }],
        labels: { SERVICE_CHECK_HTTP: '/health', SERVICE_CHECK_INTERVAL: '100ms' },
      });
      const id = `${NODE}:web70:80`;
      source.emit('container.started', c);
      await waitFor(() => find(catalog, id)?.health === 'passing', 'passing after the first probe');
      status = 429;
      await waitFor(() => find(catalog, id)?.health === 'warning', 'warning on 429');
      status = 503;
      await waitFor(() => find(catalog, id)?.health === 'critical', 'critical on 503');
      status = 200;
      await waitFor(() => find(catalog, id)?.health === 'passing', 'passing again');
      // The runtime's verdict counts too: worst of both.
      source.emit('container.unhealthy', { ...c, health: 'unhealthy' });
      await waitFor(
        () => find(catalog, id)?.health === 'critical',
        'critical when the container is unhealthy',
      );
      source.emit('container.healthy', { ...c, health: 'healthy' });
      await waitFor(() => find(catalog, id)?.health === 'passing', 'passing when both agree');
      source.emit('container.died', { ...c, state: 'exited' });
      await waitFor(() => find(catalog, id) === undefined, 'deregistered');
      const after = hits;
      await new Promise((r) => setTimeout(r, 350));
      assert.ok(hits <= after + 1, `probing stopped (${hits - after} more requests)`);
      assert.ok(registrar.counters.probes >= 4);
    } finally {
      await registrar.close();
      await catalog.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  test('TCP: critical while nothing listens, passing once something does', async () => {
    const port = await freePort();
    const source = new FakeContainerSource();
    const catalog = new LocalCatalog({ nodeName: NODE });
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: NODE, hostIp: HOST_IP },
      drainMs: 0,
    });
    const srv = createNetServer((sock) => sock.destroy());
    try {
      await registrar.start();
      const c = web(71, {
        ports: [{ containerPort: 80, hostPort: port, protocol: 'tcp', hostIp: '127.0.0.1' }],
        env: {
          SERVICE_CHECK_TCP: 'true',
          SERVICE_CHECK_INTERVAL: '100ms',
          SERVICE_CHECK_INITIAL_STATUS: 'warning',
        },
      });
      const id = `${NODE}:web71:80`;
      source.emit('container.started', c);
      await waitFor(() => find(catalog, id) !== undefined, 'registered');
      await waitFor(() => find(catalog, id)?.health === 'critical', 'critical: connection refused');
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
      await waitFor(() => find(catalog, id)?.health === 'passing', 'passing once listening');
    } finally {
      await registrar.close();
      await catalog.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

describe('Registrar with Consul unreachable', () => {
  test('never blocks a container: start, register, preStop and died return promptly; reconcile failures are retried', async () => {
    const port = await freePort();
    const catalog = new ConsulCatalog({
      nodeName: NODE,
      port,
      requestTimeoutMs: 500,
      backoffMinMs: 50,
      backoffMaxMs: 200,
    });
    const source = new FakeContainerSource();
    const c = web(60);
    source.containers.set(c.id, c);
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: NODE, hostIp: HOST_IP },
      drainMs: 100,
      reconcileRetryMs: 50,
      reconcileRetryMaxMs: 100,
    });
    try {
      const t0 = Date.now();
      await registrar.start();
      assert.ok(Date.now() - t0 < 2000, `start took ${Date.now() - t0} ms`);
      await waitFor(() => registrar.counters.reconcileFailures >= 2, 'reconcile retried');
      // What runs is registered all the same (queued in the catalog), nothing removed on a guess.
      assert.deepEqual(registrar.registeredIds(c.id), [`${NODE}:web60:80`]);
      assert.ok(registrar.counters.registered >= 1);
      source.emit('container.started', web(61));
      await waitFor(() => registrar.registeredIds(hex(61)).length === 1, 'registration accepted (queued)');
      const t1 = Date.now();
      await registrar.preStop(web(61));
      assert.ok(Date.now() - t1 < 1000, `preStop took ${Date.now() - t1} ms`);
      assert.ok(catalog.pendingWrites > 0, 'writes queued for when Consul returns');
    } finally {
      await registrar.close();
      await catalog.close();
    }
  });
});
