/**
 * Issue 12 item 4 against a real Consul: a container whose SERVICE_ID names
 * another container's registration is refused, and removing it leaves the
 * owner's service in Consul, also across an agent (registrar) restart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Consul from 'consul';
import { createLogger } from '../../../runtime/base/log.js';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import { Registrar } from '../../../sidecar/discovery/registrar.js';
import { type ConsulHandle, sharedConsul } from '../../harness/consul.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { descriptor, waitFor } from '../../unit/discovery/registrar-fixtures.js';

const FAST = {
  wait: '5s',
  backoffMinMs: 100,
  backoffMaxMs: 800,
  requestTimeoutMs: 1500,
  resyncIntervalMs: 2000,
};

interface AgentService {
  ID: string;
  Service: string;
  Port: number;
  Meta: Record<string, string>;
}

describe('SERVICE_ID cannot claim another container’s registration in Consul', () => {
  let consul: ConsulHandle | undefined;
  let api: Consul;
  let catalog: ConsulCatalog | undefined;
  const registrars: Registrar[] = [];
  const lines: Record<string, unknown>[] = [];
  const source = new FakeContainerSource();
  const sfx = randomBytes(3).toString('hex');
  const sharedId = `pay-${sfx}`;
  // The berth node this file registers as: its own on the run's shared Consul.
  const node = `berth-sid-${sfx}`;
  const hex = (n: number): string => `${randomBytes(28).toString('hex')}${n.toString(16).padStart(8, '0')}`;
  const box = (n: number, name: string, service: string) =>
    descriptor({
      id: hex(n),
      name: `${name}-${sfx}`,
      ports: [{ containerPort: 80, hostPort: 19000 + n, protocol: 'tcp', hostIp: '0.0.0.0' }],
      labels: { SERVICE_NAME: service, SERVICE_ID: sharedId },
      createdAt: `2026-01-01T00:00:0${n}Z`,
    });
  const alpha = box(2, 'alpha', `pay-${sfx}`);
  const bravo = box(1, 'bravo', `evil-${sfx}`);

  const newRegistrar = (): Registrar => {
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l));
    });
    if (consul === undefined || catalog === undefined) throw new Error('consul not started');
    const r = new Registrar({
      source,
      catalog,
      host: { nodeName: node, hostIp: '127.0.0.1' },
      drainMs: 0,
      log: createLogger({ destination: stream }),
    });
    registrars.push(r);
    return r;
  };
  const agentService = async (): Promise<AgentService | undefined> => {
    const all = (await api.agent.service.list()) as unknown as Record<string, AgentService>;
    return all[sharedId];
  };

  before(async () => {
    consul = await sharedConsul();
    api = new Consul({ host: '127.0.0.1', port: consul.httpPort });
    catalog = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: node,
      ...FAST,
    });
  });
  after(async () => {
    for (const r of registrars) await r.close();
    await catalog?.close();
    await consul?.stop();
  });

  test('the claimant is refused and logged; its removal leaves the owner registered', async () => {
    const registrar = newRegistrar();
    await registrar.start();
    source.emit('container.started', alpha);
    await waitFor(
      async () => (await agentService())?.Service === alpha.labels.SERVICE_NAME,
      'alpha in Consul',
      10_000,
    );
    source.emit('container.started', bravo);
    await waitFor(() => registrar.counters.eventsHandled >= 2, 'bravo handled');
    // What the registrar decided has reached Consul (nothing queued) before Consul is read.
    await waitFor(() => catalog?.pendingWrites === 0, 'the catalog writes landed', 10_000);
    const held = await agentService();
    assert.equal(
      held?.Service,
      alpha.labels.SERVICE_NAME,
      `Consul now has ${held?.Service} under ${sharedId}`,
    );
    assert.equal(held?.Port, 19002);
    const refusal = lines.find((l) => l.container === bravo.name);
    assert.ok(refusal, 'no log line names the refused container');
    assert.equal(refusal.owner, alpha.name);
    assert.match(String(refusal.msg), new RegExp(`SERVICE_ID "${sharedId}"`));

    source.emit('container.died', { ...bravo, state: 'exited' }, { exitCode: 0 });
    source.emit('container.removed', { ...bravo, state: 'exited' });
    await waitFor(() => registrar.counters.eventsHandled >= 4, 'bravo removed');
    // What the registrar decided has reached Consul (nothing queued) before Consul is read.
    await waitFor(() => catalog?.pendingWrites === 0, 'the catalog writes landed', 10_000);
    assert.equal(
      (await agentService())?.Service,
      alpha.labels.SERVICE_NAME,
      'removing bravo deregistered alpha',
    );
  });

  test('after an agent restart with both running, Consul’s holder keeps the id', async () => {
    source.emit('container.started', bravo);
    const old = registrars[0];
    await old?.close();
    const registrar = newRegistrar();
    await registrar.start();
    assert.equal((await agentService())?.Service, alpha.labels.SERVICE_NAME);
    assert.deepEqual(registrar.registeredIds(bravo.id), []);
    assert.deepEqual(registrar.registeredIds(alpha.id), [sharedId]);
  });
});
