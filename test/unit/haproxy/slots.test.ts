import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CatalogView, ServiceInstance } from '../../../sidecar/discovery/types.js';
import { desiredFromView } from '../../../sidecar/haproxy/model.js';
import { finishDrain, type LbState, planSlots } from '../../../sidecar/haproxy/slots.js';

function inst(id: string, over: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    id,
    service: 'web',
    tags: [],
    meta: { 'berth-lb-port': '8080' },
    address: `10.0.0.${id.replace(/\D/g, '') || '1'}`,
    port: 80,
    node: 'n1',
    health: 'passing',
    containerId: `c-${id}`,
    ...over,
  };
}
const view = (instances: ServiceInstance[]): CatalogView => ({ index: 1, instances, stale: false });
const opts = (now = 1000) => ({ now, slotsPerBackend: 4, emptyServiceRetentionMs: 60_000 });
const plan = (prev: LbState, instances: ServiceInstance[], now = 1000) =>
  planSlots(prev, desiredFromView(view(instances), '0.0.0.0'), opts(now));

describe('haproxy slot planning', () => {
  test('a new service is structural and fills the lowest slots', () => {
    const p = plan(new Map(), [inst('i1'), inst('i2')]);
    assert.equal(p.structural, true);
    const be = p.next.get('web');
    assert.equal(be?.slots.length, 4);
    assert.deepEqual(
      be?.slots.map((s) => [s.slot, s.state, s.address]),
      [
        [1, 'ready', '10.0.0.1'],
        [2, 'ready', '10.0.0.2'],
        [3, 'maint', '0.0.0.0'],
        [4, 'maint', '0.0.0.0'],
      ],
    );
  });

  test('adding an instance with a free slot is a runtime API change', () => {
    const p1 = plan(new Map(), [inst('i1')]);
    const p2 = plan(p1.next, [inst('i1'), inst('i2')]);
    assert.equal(p2.structural, false);
    assert.deepEqual(p2.commands, [
      'set server be_web/s2 addr 10.0.0.2 port 80',
      'set server be_web/s2 state ready',
    ]);
  });

  test('a removed instance drains, keeps its slot, and is freed after the drain', () => {
    const p1 = plan(new Map(), [inst('i1'), inst('i2')]);
    const p2 = plan(p1.next, [inst('i2')], 2000);
    assert.deepEqual(p2.commands, ['set server be_web/s1 state drain']);
    const s1 = p2.next.get('web')?.slots[0];
    assert.equal(s1?.removing, true);
    assert.equal(s1?.drainSince, 2000);
    // A newcomer does not take a draining slot.
    const p3 = plan(p2.next, [inst('i2'), inst('i3')], 2100);
    assert.deepEqual(p3.commands, [
      'set server be_web/s3 addr 10.0.0.3 port 80',
      'set server be_web/s3 state ready',
    ]);
    assert.equal(finishDrain(p3.next, 'web', 1), 'set server be_web/s1 state maint');
    assert.equal(p3.next.get('web')?.slots[0]?.instanceId, undefined);
  });

  test('critical instances leave, maintenance ones drain in place', () => {
    const p1 = plan(new Map(), [inst('i1'), inst('i2')]);
    const p2 = plan(p1.next, [inst('i1', { health: 'maintenance' }), inst('i2', { health: 'critical' })]);
    assert.deepEqual(p2.commands, ['set server be_web/s1 state drain', 'set server be_web/s2 state drain']);
    assert.equal(p2.next.get('web')?.slots[0]?.removing, false);
    assert.equal(p2.next.get('web')?.slots[1]?.removing, true);
    const p3 = plan(p2.next, [inst('i1'), inst('i2', { health: 'critical' })]);
    assert.deepEqual(p3.commands, ['set server be_web/s1 state ready']);
  });

  test('an address change is a set addr', () => {
    const p1 = plan(new Map(), [inst('i1')]);
    const p2 = plan(p1.next, [inst('i1', { address: '10.9.9.9', port: 81 })]);
    assert.deepEqual(p2.commands, ['set server be_web/s1 addr 10.9.9.9 port 81']);
  });

  test('running out of slots grows the backend by a reload', () => {
    const four = ['i1', 'i2', 'i3', 'i4'].map((i) => inst(i));
    const p1 = plan(new Map(), four);
    const p2 = plan(p1.next, [...four, inst('i5')]);
    assert.equal(p2.structural, true);
    assert.equal(p2.next.get('web')?.slots.length, 8);
    assert.deepEqual(
      p2.next.get('web')?.slots.map((s) => s.instanceId ?? '-'),
      ['i1', 'i2', 'i3', 'i4', 'i5', '-', '-', '-'],
    );
  });

  test('a label change is structural', () => {
    const p1 = plan(new Map(), [inst('i1')]);
    const p2 = plan(p1.next, [
      inst('i1', { meta: { 'berth-lb-port': '8080', 'berth-lb-balance': 'leastconn' } }),
    ]);
    assert.equal(p2.structural, true);
    assert.equal(p2.next.get('web')?.spec.balance, 'leastconn');
  });

  test('an empty service keeps its frontend until the retention time passes', () => {
    const p1 = plan(new Map(), [inst('i1')]);
    const p2 = plan(p1.next, [], 2000);
    assert.equal(p2.structural, false);
    assert.deepEqual(p2.commands, ['set server be_web/s1 state drain']);
    finishDrain(p2.next, 'web', 1);
    const p3 = plan(p2.next, [], 30_000);
    assert.equal(p3.structural, false);
    assert.ok(p3.next.has('web'));
    // Scaling back from zero needs no reload.
    const p4 = plan(p3.next, [inst('i7')], 31_000);
    assert.equal(p4.structural, false);
    assert.deepEqual(p4.commands, [
      'set server be_web/s1 addr 10.0.0.7 port 80',
      'set server be_web/s1 state ready',
    ]);
    const p5 = plan(p3.next, [], 62_001);
    assert.equal(p5.structural, true);
    assert.equal(p5.next.has('web'), false);
  });

  test('problems leave out only what they concern', () => {
    const d = desiredFromView(
      view([
        inst('i1'),
        inst('i2', { service: 'api', meta: { 'berth-lb-port': 'x' } }),
        inst('i3', { service: 'other', meta: { 'berth-lb-port': '8080' } }),
        inst('i4', { service: 'plain', meta: {} }),
      ]),
      '0.0.0.0',
    );
    assert.deepEqual([...d.services.keys()], ['other']);
    assert.equal(d.problems.length, 2);
    assert.match(d.problems[0]?.message ?? '', /berth\.lb\.port: "x" is not a port/);
    assert.match(d.problems[1]?.message ?? '', /already the frontend of service other/);
  });

  test('berth.lb.service groups several catalog services into one backend', () => {
    const meta = { 'berth-lb-port': '80', 'berth-lb-service': 'shop' };
    const d = desiredFromView(
      view([inst('i1', { service: 'shop-blue', meta }), inst('i2', { service: 'shop-green', meta })]),
      '0.0.0.0',
    );
    assert.deepEqual(
      d.services.get('shop')?.servers.map((s) => s.service),
      ['shop-blue', 'shop-green'],
    );
  });
});
