import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { isInvalidArgument, isNotFound } from '../../../runtime/base/errors.js';
import type { Catalog, CatalogView, ServiceInstance } from '../../../sidecar/discovery/types.js';

/** One catalog under test; `cleanup` stops whatever `make` started. */
export interface CatalogUnderTest {
  catalog: Catalog;
  /** The node name instances of this catalog are registered on. */
  nodeName: string;
  cleanup(): Promise<void>;
}

/** Resolves with the first view (current or later) that satisfies `pred`, or fails after `timeoutMs`. */
export async function waitForView(
  catalog: Catalog,
  pred: (v: CatalogView) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<CatalogView> {
  const signal = AbortSignal.timeout(timeoutMs);
  let last: CatalogView = catalog.view();
  for await (const v of catalog.watch({ signal })) {
    last = v;
    if (pred(v)) return v;
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last view: ${JSON.stringify(last)}`);
}

export const findIn = (v: CatalogView, id: string): ServiceInstance | undefined =>
  v.instances.find((i) => i.id === id);

export function sampleInstance(nodeName: string, overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  const suffix = randomBytes(3).toString('hex');
  return {
    id: `${nodeName}:web-${suffix}:8080`,
    service: `web-${suffix}`,
    tags: ['v1', 'primary'],
    meta: { version: '1.2.3', team: 'core' },
    address: '127.0.0.2',
    port: 8080,
    node: nodeName,
    health: 'passing',
    containerId: `c${suffix}`,
    ...overrides,
  };
}

/**
 * The behaviour every Catalog promises, run against each implementation
 * (local.test.ts, and the Consul one against a real dev agent).
 */
export function catalogConformance(name: string, make: () => Promise<CatalogUnderTest>): void {
  describe(`Catalog conformance: ${name}`, () => {
    let cut: CatalogUnderTest;
    let catalog: Catalog;
    before(async () => {
      cut = await make();
      catalog = cut.catalog;
    });
    after(async () => {
      await cut?.cleanup();
    });

    test('a registered instance shows up in view() and owned() with everything it was registered with', async () => {
      const inst = sampleInstance(cut.nodeName);
      const before = catalog.view().index;
      await catalog.register(inst);
      const v = await waitForView(catalog, (x) => findIn(x, inst.id) !== undefined, `${inst.id} in the view`);
      assert.ok(v.index > before, 'index bumps on change');
      assert.equal(v.stale, false);
      const got = findIn(v, inst.id);
      assert.ok(got);
      assert.equal(got.service, inst.service);
      assert.deepEqual([...got.tags].sort(), [...inst.tags].sort());
      assert.deepEqual(got.meta, inst.meta);
      assert.equal(got.address, inst.address);
      assert.equal(got.port, inst.port);
      assert.equal(got.node, cut.nodeName);
      assert.equal(got.health, 'passing');
      assert.equal(got.containerId, inst.containerId);
      const owned = await catalog.owned();
      const mine = owned.find((i) => i.id === inst.id);
      assert.ok(mine, 'owned() lists it');
      assert.equal(mine.service, inst.service);
      assert.equal(mine.port, inst.port);
      await catalog.deregister(inst.id);
    });

    test('registering the same id again replaces the instance', async () => {
      const inst = sampleInstance(cut.nodeName);
      await catalog.register(inst);
      await catalog.register({ ...inst, port: 9090, tags: ['v2'] });
      const v = await waitForView(catalog, (x) => findIn(x, inst.id)?.port === 9090, 'the new port');
      assert.equal(v.instances.filter((i) => i.id === inst.id).length, 1);
      assert.deepEqual(findIn(v, inst.id)?.tags, ['v2']);
      await catalog.deregister(inst.id);
    });

    test('setHealth changes the health the view reports', async () => {
      const inst = sampleInstance(cut.nodeName);
      await catalog.register(inst);
      await waitForView(catalog, (x) => findIn(x, inst.id)?.health === 'passing', 'passing');
      await catalog.setHealth(inst.id, 'critical', 'connection refused');
      await waitForView(catalog, (x) => findIn(x, inst.id)?.health === 'critical', 'critical');
      await catalog.setHealth(inst.id, 'warning');
      await waitForView(catalog, (x) => findIn(x, inst.id)?.health === 'warning', 'warning');
      await catalog.setHealth(inst.id, 'passing');
      await waitForView(catalog, (x) => findIn(x, inst.id)?.health === 'passing', 'passing again');
      await catalog.deregister(inst.id);
    });

    test('maintenance overrides health and clearing it restores the check status', async () => {
      const inst = sampleInstance(cut.nodeName);
      await catalog.register(inst);
      await catalog.setHealth(inst.id, 'warning');
      await catalog.setMaintenance(inst.id, true, 'draining before stop');
      await waitForView(catalog, (x) => findIn(x, inst.id)?.health === 'maintenance', 'maintenance');
      await catalog.setMaintenance(inst.id, false);
      await waitForView(
        catalog,
        (x) => findIn(x, inst.id)?.health === 'warning',
        'warning after maintenance',
      );
      await catalog.deregister(inst.id);
    });

    test('deregister removes the instance; deregistering an unknown id is not an error', async () => {
      const inst = sampleInstance(cut.nodeName);
      await catalog.register(inst);
      await waitForView(catalog, (x) => findIn(x, inst.id) !== undefined, 'registered');
      await catalog.deregister(inst.id);
      await waitForView(catalog, (x) => findIn(x, inst.id) === undefined, 'gone');
      assert.equal(
        (await catalog.owned()).find((i) => i.id === inst.id),
        undefined,
      );
      await catalog.deregister(`never-registered-${randomBytes(3).toString('hex')}`);
    });

    test('health and maintenance of an unknown instance are NotFound', async () => {
      const id = `unknown-${randomBytes(3).toString('hex')}`;
      await assert.rejects(catalog.setHealth(id, 'passing'), (e) => isNotFound(e));
      await assert.rejects(catalog.setMaintenance(id, true), (e) => isNotFound(e));
    });

    test('invalid input is rejected with the field named', async () => {
      const inst = sampleInstance(cut.nodeName);
      await assert.rejects(
        catalog.register({ ...inst, port: 70000 }),
        (e) => isInvalidArgument(e) && /port/.test(String(e)),
      );
      await assert.rejects(catalog.register({ ...inst, id: '' }), (e) => isInvalidArgument(e));
      await assert.rejects(catalog.register({ ...inst, meta: { 'bad key!': 'x' } }), (e) =>
        isInvalidArgument(e),
      );
      await catalog.register(inst);
      await assert.rejects(catalog.setHealth(inst.id, 'maintenance'), (e) => isInvalidArgument(e));
      await catalog.deregister(inst.id);
    });

    test('watch yields the current view first, then changes, and ends on abort', async () => {
      const ac = new AbortController();
      const seen: CatalogView[] = [];
      const inst = sampleInstance(cut.nodeName);
      const done = (async () => {
        for await (const v of catalog.watch({ signal: ac.signal })) {
          seen.push(v);
          if (findIn(v, inst.id) !== undefined) ac.abort();
        }
      })();
      await catalog.register(inst);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        done,
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new Error('watch did not end after abort')), 10_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.ok(seen.length >= 2, 'initial view and at least one change');
      const indexes = seen.map((v) => v.index);
      assert.deepEqual(
        [...indexes].sort((a, b) => a - b),
        indexes,
        'indexes only grow',
      );
      await catalog.deregister(inst.id);
    });
  });
}
