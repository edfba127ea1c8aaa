import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../../runtime/base/log.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { Registrar } from '../../../sidecar/discovery/registrar.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { descriptor, waitFor } from './registrar-fixtures.js';

/**
 * Issue 12 item 4: a container must not take over another container's
 * registration by naming its id in SERVICE_ID (and then deregister it when
 * it goes). The first owner keeps the id; the claimant is refused with a
 * logged reason that names the label and the owner.
 */

const NODE = 'node-a';
const hex = (n: number): string => n.toString(16).padStart(64, '0');

function box(n: number, name: string, labels: Record<string, string>, o: Partial<ContainerDescriptor> = {}) {
  return descriptor({
    id: hex(n),
    name,
    ports: [{ containerPort: 80, hostPort: 9000 + n, protocol: 'tcp', hostIp: '0.0.0.0' }],
    labels,
    createdAt: `2026-01-01T00:00:0${n}Z`,
    ...o,
  });
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l));
  });
  return { log: createLogger({ destination: stream, level: 'info' }), lines };
}

describe('SERVICE_ID cannot claim another container’s registration (LocalCatalog)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(catalog = new LocalCatalog({ nodeName: NODE }), source = new FakeContainerSource()) {
    const { log, lines } = capture();
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: NODE, hostIp: '192.0.2.1' },
      drainMs: 0,
      log,
    });
    cleanups.push(async () => {
      await registrar.close();
    });
    return { source, catalog, registrar, lines };
  }
  const find = (cat: LocalCatalog, id: string): ServiceInstance | undefined =>
    cat.view().instances.find((i) => i.id === id);

  test('the second container is refused with a reason naming the label and the owner; removing it leaves the first registered', async () => {
    const { source, catalog, registrar, lines } = await setup();
    cleanups.push(() => catalog.close());
    await registrar.start();
    const a = box(1, 'alpha', { SERVICE_NAME: 'pay', SERVICE_ID: 'pay-main' });
    const b = box(2, 'bravo', { SERVICE_NAME: 'evil', SERVICE_ID: 'pay-main' });
    source.emit('container.started', a);
    await waitFor(() => find(catalog, 'pay-main') !== undefined, 'alpha registered');
    source.emit('container.started', b);
    await waitFor(() => registrar.counters.eventsHandled >= 2, 'bravo handled');
    await new Promise((r) => setTimeout(r, 100));

    const inst = find(catalog, 'pay-main');
    assert.equal(inst?.service, 'pay', `the id now serves ${inst?.service}`);
    assert.equal(inst?.containerId, a.id);
    assert.equal(inst?.port, 9001);
    assert.deepEqual(registrar.registeredIds(b.id), []);
    assert.equal(registrar.counters.idConflicts, 1);
    const refusal = lines.find((l) => String(l.msg).includes('pay-main'));
    assert.ok(refusal, `no log line about the refused id: ${JSON.stringify(lines)}`);
    assert.match(String(refusal.msg), /SERVICE_ID "pay-main"/);
    assert.match(String(refusal.msg), /alpha/);
    assert.equal(refusal.container, 'bravo');
    assert.equal(refusal.owner, 'alpha');

    source.emit('container.died', { ...b, state: 'exited' }, { exitCode: 0 });
    source.emit('container.removed', { ...b, state: 'exited' });
    await waitFor(() => registrar.counters.eventsHandled >= 4, 'bravo removed');
    assert.equal(find(catalog, 'pay-main')?.service, 'pay', 'removing bravo deregistered alpha');

    // A reconcile (resync) keeps the owner too.
    source.emit('container.started', b);
    await waitFor(() => registrar.counters.eventsHandled >= 5, 'bravo again');
    await registrar.reconcile();
    assert.equal(find(catalog, 'pay-main')?.containerId, a.id);
    assert.deepEqual(registrar.registeredIds(b.id), []);

    // Once the owner is gone, the id is free: the waiting container takes it.
    source.emit('container.died', { ...a, state: 'exited' }, { exitCode: 0 });
    await waitFor(() => find(catalog, 'pay-main')?.containerId === b.id, 'bravo takes the freed id');
    assert.equal(find(catalog, 'pay-main')?.service, 'evil');
  });

  test("a per-port SERVICE_<port>_ID naming another container's default id is refused too", async () => {
    const { source, catalog, registrar, lines } = await setup();
    cleanups.push(() => catalog.close());
    await registrar.start();
    const a = box(3, 'web1', { SERVICE_NAME: 'web' });
    const b = box(4, 'sneaky', { SERVICE_NAME: 'x', SERVICE_80_ID: `${NODE}:web1:80` });
    source.emit('container.started', a);
    source.emit('container.started', b);
    await waitFor(() => registrar.counters.eventsHandled >= 2, 'both handled');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(find(catalog, `${NODE}:web1:80`)?.containerId, a.id);
    assert.match(String(lines.find((l) => l.owner === 'web1')?.msg), /SERVICE_80_ID/);
  });

  test('after an agent restart the catalog’s owner keeps the id, whatever order the containers are listed in', async () => {
    const catalog = new LocalCatalog({ nodeName: NODE });
    cleanups.push(() => catalog.close());
    const source = new FakeContainerSource();
    // Bravo was created first and is listed first, but alpha holds the id.
    const b = box(1, 'bravo', { SERVICE_NAME: 'evil', SERVICE_ID: 'pay-main' });
    const a = box(2, 'alpha', { SERVICE_NAME: 'pay', SERVICE_ID: 'pay-main' });
    const first = await setup(catalog, source);
    await first.registrar.start();
    source.emit('container.started', a);
    await waitFor(() => find(catalog, 'pay-main') !== undefined, 'alpha registered');
    await first.registrar.close();
    source.containers.clear();
    source.containers.set(b.id, b);
    source.containers.set(a.id, a);
    const second = await setup(catalog, source);
    await second.registrar.start();
    assert.equal(find(catalog, 'pay-main')?.containerId, a.id);
    assert.deepEqual(second.registrar.registeredIds(b.id), []);
    assert.ok(second.lines.some((l) => l.container === 'bravo' && l.owner === 'alpha'));
  });
});
