/**
 * The HAProxy manager's draining (sidecar/haproxy/drains.ts) over an injected
 * Runtime API (`RuntimeCommands`, the seam the manager takes as
 * `deps.runtime`): the commands it sends and when it resolves, without an
 * HAProxy. The same behaviour against a real HAProxy is in
 * test/integration/haproxy/prestop.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import type { CatalogView, ServiceInstance } from '../../../sidecar/discovery/types.js';
import { Drains } from '../../../sidecar/haproxy/drains.js';
import { HaproxyMetrics } from '../../../sidecar/haproxy/metrics.js';
import { desiredFromView } from '../../../sidecar/haproxy/model.js';
import { type LbState, planSlots } from '../../../sidecar/haproxy/slots.js';
import type { RuntimeCommands } from '../../../sidecar/haproxy/types.js';

function inst(n: number, container: string): ServiceInstance {
  return {
    id: `i${n}`,
    service: 'web',
    tags: [],
    meta: { 'berth-lb-port': '8080' },
    address: `10.0.0.${n}`,
    port: 80,
    node: 'n1',
    health: 'passing',
    containerId: container,
  };
}

function stateOf(instances: ServiceInstance[]): LbState {
  const view: CatalogView = { index: 1, instances, stale: false };
  return planSlots(new Map(), desiredFromView(view, '0.0.0.0'), {
    now: 1000,
    slotsPerBackend: 4,
    emptyServiceRetentionMs: 60_000,
  }).next;
}

/** A Runtime API that records commands and reports the sessions the test sets. */
class FakeRuntime implements RuntimeCommands {
  readonly applied: string[][] = [];
  sessionsNow = new Map<string, number>();
  async apply(cmds: readonly string[]): Promise<void> {
    this.applied.push([...cmds]);
  }
  async sessions(): Promise<Map<string, number>> {
    return new Map(this.sessionsNow);
  }
}

function drains(state: LbState, runtime: FakeRuntime, metrics = new HaproxyMetrics()) {
  let changed = 0;
  let freed = 0;
  const d = new Drains({
    state: () => state,
    runtime,
    metrics,
    now: Date.now,
    drainTimeoutMs: 60_000,
    enqueue: (fn) => fn(),
    logger: silentLogger(),
    changed: () => {
      changed++;
    },
    freed: () => {
      freed++;
    },
  });
  return { d, counts: () => ({ changed, freed }) };
}

describe('Drains over an injected Runtime API', () => {
  test('preStop drains only the stopping container, then resolves when its sessions end', async () => {
    const state = stateOf([inst(1, 'c1'), inst(2, 'c2')]);
    const runtime = new FakeRuntime();
    runtime.sessionsNow.set('be_web/s1', 3);
    const { d, counts } = drains(state, runtime);
    const done = d.preStop({ id: 'c1' }, 5000);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(runtime.applied, [['set server be_web/s1 state drain']]);
    assert.equal(state.get('web')?.slots[0]?.state, 'drain');
    assert.equal(state.get('web')?.slots[1]?.state, 'ready', 'the other container keeps serving');
    assert.equal(counts().changed, 1, 'the gauges are updated');
    runtime.sessionsNow.set('be_web/s1', 0);
    assert.deepEqual(await done, { servers: ['be_web/s1'], drained: true, sessions: 0 });
  });

  test('preStop gives up at its bound and reports the sessions still open', async () => {
    const state = stateOf([inst(1, 'c1')]);
    const runtime = new FakeRuntime();
    runtime.sessionsNow.set('be_web/s1', 2);
    const { d } = drains(state, runtime);
    const t0 = Date.now();
    assert.deepEqual(await d.preStop({ id: 'c1' }, 300), {
      servers: ['be_web/s1'],
      drained: false,
      sessions: 2,
    });
    assert.ok(Date.now() - t0 < 2000);
  });

  test('a container in no backend returns at once, with no command', async () => {
    const runtime = new FakeRuntime();
    const { d } = drains(stateOf([inst(1, 'c1')]), runtime);
    assert.deepEqual(await d.preStop({ id: 'other' }, 5000), { servers: [], drained: true, sessions: 0 });
    assert.deepEqual(runtime.applied.flat(), []);
  });

  test('a removed server is freed once its sessions end, and counted', async () => {
    const state = stateOf([inst(1, 'c1')]);
    const slot = state.get('web')?.slots[0];
    assert.ok(slot);
    Object.assign(slot, { state: 'drain', removing: true, drainSince: Date.now() });
    const runtime = new FakeRuntime();
    runtime.sessionsNow.set('be_web/s1', 1);
    const metrics = new HaproxyMetrics();
    const { d, counts } = drains(state, runtime, metrics);
    d.schedule();
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(d.removing().length, 1, 'held while a session is open');
    runtime.sessionsNow.set('be_web/s1', 0);
    for (let i = 0; i < 50 && d.removing().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    d.close();
    assert.equal(d.removing().length, 0);
    assert.ok(runtime.applied.some((c) => c.includes('set server be_web/s1 state maint')));
    assert.equal(metrics.drainsCompleted, 1);
    assert.equal(slot.instanceId, undefined, 'the slot is free again');
    assert.ok(counts().freed >= 1);
  });
});
