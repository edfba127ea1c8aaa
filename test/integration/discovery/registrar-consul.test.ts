import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Consul from 'consul';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import { Registrar } from '../../../sidecar/discovery/registrar.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { DnsServer } from '../../../sidecar/dns/server.js';
import { type ConsulHandle, sharedConsul } from '../../harness/consul.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { descriptor, waitFor } from '../../unit/discovery/registrar-fixtures.js';

const exec = promisify(execFile);

const FAST = {
  wait: '5s',
  backoffMinMs: 100,
  backoffMaxMs: 800,
  requestTimeoutMs: 1500,
  resyncIntervalMs: 2000,
};

interface CatalogNode {
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServicePort: number;
  ServiceMeta: Record<string, string>;
}
interface HealthCheck {
  CheckID: string;
  ServiceID: string;
  Status: string;
}

async function digShort(port: number, name: string, type: string): Promise<string[]> {
  const { stdout } = await exec('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    '+time=3',
    '+tries=1',
    '+short',
    name,
    type,
  ]);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}

describe('Registrar registers containers in a real Consul', () => {
  let consul: ConsulHandle;
  let api: Consul;
  let catalog: ConsulCatalog;
  let registrar: Registrar;
  let dns: DnsServer;
  const source = new FakeContainerSource();
  const svc = `shop${randomBytes(3).toString('hex')}`;
  // The berth node this file registers as: its own on the run's shared Consul.
  const node = `berth-${svc}`;
  const hex = (n: number): string => `${randomBytes(28).toString('hex')}${n.toString(16).padStart(8, '0')}`;

  const nodes = async (name: string): Promise<CatalogNode[]> =>
    (await api.catalog.service.nodes(name)) as unknown as CatalogNode[];
  const checks = async (name: string): Promise<HealthCheck[]> =>
    (await api.health.checks(name)) as unknown as HealthCheck[];
  const ttlStatus = async (id: string): Promise<string | undefined> =>
    (await checks(svc)).find((c) => c.CheckID === `service:${id}`)?.Status;

  const web = descriptor({
    id: hex(1),
    name: `${svc}-1`,
    image: `reg:5000/team/${svc}:1`,
    imageName: `reg:5000/team/${svc}`,
    ports: [{ containerPort: 80, hostPort: 18080, protocol: 'tcp', hostIp: '0.0.0.0' }],
    labels: { SERVICE_TAGS: 'v1,blue', SERVICE_REGION: 'eu', 'berth.lb.mode': 'http' },
    health: 'starting',
  });

  before(async () => {
    consul = await sharedConsul();
    api = new Consul({ host: '127.0.0.1', port: consul.httpPort });
    catalog = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: node,
      ...FAST,
    });
    registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: node, hostIp: '127.0.0.1' },
      drainMs: 200,
    });
    dns = new DnsServer({
      view: () => catalog.view(),
      nodeName: node,
      nodeAddress: '127.0.0.1',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
    });
    await dns.start();
    await registrar.start();
  });
  after(async () => {
    await registrar?.close();
    await dns?.close();
    await catalog?.close();
    await consul?.stop();
  });

  const id = (): string => `${node}:${svc}-1:80`;

  test('container.started → registered with name, tags, port and meta; health mirrored as the TTL check', async () => {
    source.emit('container.started', web);
    await waitFor(async () => (await nodes(svc)).length === 1, 'service in the Consul catalog', 10_000);
    const [n] = await nodes(svc);
    assert.equal(n?.ServiceID, id());
    assert.equal(n?.ServiceName, svc);
    assert.deepEqual(n?.ServiceTags, ['v1', 'blue']);
    assert.equal(n?.ServiceAddress, '127.0.0.1');
    assert.equal(n?.ServicePort, 18080);
    assert.equal(n?.ServiceMeta.region, 'eu');
    assert.equal(n?.ServiceMeta['berth-lb-mode'], 'http');
    assert.equal(n?.ServiceMeta['berth-container'], web.id);
    // The container's health check is still starting: Consul's default for a new check.
    assert.equal(await ttlStatus(id()), 'critical');
    source.emit('container.healthy', { ...web, health: 'healthy' });
    await waitFor(async () => (await ttlStatus(id())) === 'passing', 'TTL check passing', 10_000);
    source.emit('container.unhealthy', { ...web, health: 'unhealthy' });
    await waitFor(async () => (await ttlStatus(id())) === 'critical', 'TTL check critical', 10_000);
    source.emit('container.healthy', { ...web, health: 'healthy' });
    await waitFor(async () => (await ttlStatus(id())) === 'passing', 'TTL check passing again', 10_000);
  });

  test("the service resolves through berth's DNS and through Consul's DNS alike", async () => {
    await waitFor(
      () => catalog.view().instances.some((i) => i.id === id() && i.health === 'passing'),
      'passing instance in the view',
      10_000,
    );
    const berthPort = dns.addresses()[0]?.port ?? 0;
    const ours = await digShort(berthPort, `${svc}.service.consul`, 'A');
    const theirs = await digShort(consul.dnsPort, `${svc}.service.consul`, 'A');
    assert.deepEqual(ours, ['127.0.0.1']);
    assert.deepEqual(ours, theirs);
    const oursSrv = await digShort(berthPort, `blue.${svc}.service.consul`, 'SRV');
    const theirsSrv = await digShort(consul.dnsPort, `blue.${svc}.service.consul`, 'SRV');
    assert.equal(oursSrv.length, 1);
    assert.match(oursSrv[0] ?? '', / 18080 /);
    assert.deepEqual(oursSrv, theirsSrv);
  });

  test('preStop → maintenance in Consul (and out of DNS); died → gone', async () => {
    await registrar.preStop(web);
    await waitFor(
      async () => (await checks(svc)).some((c) => c.CheckID === `_service_maintenance:${id()}`),
      'maintenance check',
      10_000,
    );
    await waitFor(
      () => catalog.view().instances.some((i) => i.id === id() && i.health === 'maintenance'),
      'maintenance in the view',
      10_000,
    );
    assert.deepEqual(await digShort(dns.addresses()[0]?.port ?? 0, `${svc}.service.consul`, 'A'), []);
    source.emit('container.died', { ...web, state: 'exited' }, { exitCode: 0 });
    await waitFor(async () => (await nodes(svc)).length === 0, 'deregistered', 10_000);
  });

  test('a new agent reconciles: a ghost left by an earlier agent is removed, a missing container added', async () => {
    // An earlier berth agent on this node registered a container that is gone now, then died.
    const earlier = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: node,
      ...FAST,
    });
    const ghost: ServiceInstance = {
      id: `${node}:${svc}-ghost:80`,
      service: svc,
      tags: [],
      meta: {},
      address: '127.0.0.1',
      port: 18999,
      node: node,
      health: 'passing',
    };
    await earlier.register(ghost);
    // The write may have been queued (the catalog had not reached Consul yet): let it land before this agent dies.
    await waitFor(() => earlier.pendingWrites === 0, 'ghost written', 10_000);
    await earlier.close();
    await waitFor(
      async () => (await nodes(svc)).some((n) => n.ServiceID === ghost.id),
      'ghost registered',
      10_000,
    );

    // A container running without its registration (its start was missed).
    const missed = descriptor({
      ...web,
      id: hex(2),
      name: `${svc}-2`,
      ports: [{ containerPort: 80, hostPort: 18081, protocol: 'tcp', hostIp: '0.0.0.0' }],
      health: 'none',
    });
    const source2 = new FakeContainerSource();
    source2.containers.set(missed.id, missed);
    const catalog2 = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: node,
      ...FAST,
    });
    const registrar2 = new Registrar({
      source: source2,
      catalog: catalog2,
      host: { nodeName: node, hostIp: '127.0.0.1' },
    });
    try {
      await registrar2.start();
      await waitFor(
        async () => {
          const ids = (await nodes(svc)).map((n) => n.ServiceID);
          return ids.length === 1 && ids[0] === `${node}:${svc}-2:80`;
        },
        'ghost removed and missing one added',
        10_000,
      );
      assert.equal(registrar2.counters.reconcileRemoved, 1);
      assert.equal(registrar2.counters.reconcileAdded, 1);
      await waitFor(async () => (await ttlStatus(`${node}:${svc}-2:80`)) === 'passing', 'passing', 10_000);
    } finally {
      await registrar2.close();
      await catalog2.close();
    }
  });
});
