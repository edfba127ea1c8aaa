import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UPDATE_DEFAULTS } from '../../../src/compose/finalize.js';
import type { ComposeDependency, ComposeService } from '../../../src/compose/types.js';
import { dependencyOrder, plan } from '../../../src/deploy/plan.js';
import type { Action, ActualReplica, DesiredService } from '../../../src/deploy/types.js';

const svc = (name: string): ComposeService => ({
  name,
  image: 'busybox',
  environment: {},
  envFiles: [],
  ports: [],
  expose: [],
  labels: {},
  volumes: [],
  tmpfs: [],
  readOnly: false,
  capAdd: [],
  capDrop: [],
  securityOpt: [],
  ulimits: {},
  networks: { default: { aliases: [] } },
  dependsOn: {},
  deploy: {
    replicas: 1,
    resources: { limits: {} },
    updateConfig: UPDATE_DEFAULTS,
    rollbackConfig: UPDATE_DEFAULTS,
  },
  profiles: [],
});

const want = (
  name: string,
  replicas: number,
  hash = 'h1',
  dependsOn: Record<string, ComposeDependency> = {},
): DesiredService => ({ name, rev: { service: svc(name), configHash: hash }, replicas, dependsOn });

const dep = (condition: ComposeDependency['condition']): ComposeDependency => ({
  condition,
  required: true,
  restart: false,
});

const rep = (service: string, index: number, o: Partial<ActualReplica> = {}): ActualReplica => ({
  id: `${service}-${index}-${o.configHash ?? 'h1'}`,
  name: `p-${service}-${index}`,
  index,
  configHash: 'h1',
  service,
  state: 'running',
  health: 'none',
  ...o,
});

const NOW = Date.parse('2026-12-07T12:00:10Z');
const run = (
  desired: DesiredService[],
  actual: ActualReplica[],
  o: { removeOrphans?: boolean; rolling?: string[] } = {},
) =>
  plan({
    desired,
    actual,
    removeOrphans: o.removeOrphans ?? false,
    rolling: new Set(o.rolling ?? []),
    now: NOW,
  });

/** Actions as short strings, for readable assertions. */
const short = (as: Action[]): string[] =>
  as.map((a): string => {
    switch (a.kind) {
      case 'create':
        return `create ${a.service}#${a.index}`;
      case 'replace':
        return `replace ${a.replica.name}`;
      case 'remove':
        return `remove ${a.replica.name} (${a.reason})`;
      case 'rollout':
        return `rollout ${a.service} [${a.stale.map((r) => r.index).join(',')}]`;
      case 'recheck':
        return `recheck ${a.replica.name} in ${a.afterMs}`;
      default:
        return `wait ${a.service} on ${a.on} ${a.condition}`;
    }
  });

describe('plan', () => {
  test('an empty project starts every replica, dependencies first', () => {
    const d = [want('web', 2, 'h1', { db: dep('service_started') }), want('db', 1)];
    assert.deepEqual(short(run(d, [])), ['create db#1', 'wait web on db service_started']);
  });

  test('a converged project plans nothing', () => {
    assert.deepEqual(short(run([want('web', 2)], [rep('web', 1), rep('web', 2)])), []);
  });

  test('a dependency met lets the dependent start', () => {
    const d = [want('web', 2, 'h1', { db: dep('service_started') }), want('db', 1)];
    assert.deepEqual(short(run(d, [rep('db', 1)])), ['create web#1', 'create web#2']);
  });

  test('service_healthy waits for a healthy replica; a starting one is not enough', () => {
    const d = [want('web', 1, 'h1', { db: dep('service_healthy') }), want('db', 1)];
    assert.deepEqual(short(run(d, [rep('db', 1, { health: 'starting' })])), [
      'wait web on db service_healthy',
    ]);
    assert.deepEqual(short(run(d, [rep('db', 1, { health: 'healthy' })])), ['create web#1']);
  });

  test('service_completed_successfully waits for an exit 0; a running or failed job is not', () => {
    const d = [want('web', 1, 'h1', { migrate: dep('service_completed_successfully') }), want('migrate', 1)];
    assert.deepEqual(short(run(d, [rep('migrate', 1)])), [
      'wait web on migrate service_completed_successfully',
    ]);
    assert.deepEqual(short(run(d, [rep('migrate', 1, { state: 'exited', exitCode: 0 })])), ['create web#1']);
  });

  test('a completed one-shot (exit 0) is left alone; one that failed is replaced', () => {
    assert.deepEqual(short(run([want('job', 1)], [rep('job', 1, { state: 'exited', exitCode: 0 })])), []);
    assert.deepEqual(short(run([want('job', 1)], [rep('job', 1, { state: 'exited', exitCode: 137 })])), [
      'replace p-job-1',
    ]);
  });

  test('a replica its restart policy is restarting is left to the policy', () => {
    assert.deepEqual(short(run([want('web', 1)], [rep('web', 1, { state: 'restarting', exitCode: 1 })])), []);
  });

  test('an exit its restart policy may take back is left to the policy for a while, then replaced', () => {
    const d = want('web', 1);
    d.rev.service.restart = 'always';
    const just = rep('web', 1, { state: 'exited', exitCode: 137, finishedAt: '2026-12-07T12:00:09Z' });
    assert.deepEqual(short(run([d], [just])), ['recheck p-web-1 in 2000']);
    const long = { ...just, finishedAt: '2026-12-07T12:00:00Z' };
    assert.deepEqual(short(run([d], [long])), ['replace p-web-1']);
    // on-failure does not restart a clean exit, and policy no never: no wait for either.
    d.rev.service.restart = 'on-failure:3';
    assert.deepEqual(short(run([d], [{ ...just, exitCode: 0 }])), []);
    d.rev.service.restart = 'no';
    assert.deepEqual(short(run([d], [just])), ['replace p-web-1']);
  });

  test('a replica created but never started (agent killed between create and start) is replaced', () => {
    assert.deepEqual(short(run([want('web', 1)], [rep('web', 1, { state: 'created' })])), [
      'replace p-web-1',
    ]);
  });

  test('scale up fills the lowest free indexes; scale down removes the highest first', () => {
    assert.deepEqual(short(run([want('web', 3)], [rep('web', 2)])), ['create web#1', 'create web#3']);
    assert.deepEqual(short(run([want('web', 1)], [rep('web', 1), rep('web', 2), rep('web', 3)])), [
      'remove p-web-3 (scale-down)',
      'remove p-web-2 (scale-down)',
    ]);
  });

  test('the count matters, not the positions: replicas 3 and 4 after a rollout are two replicas', () => {
    assert.deepEqual(short(run([want('web', 2)], [rep('web', 3), rep('web', 4)])), []);
  });

  test('a changed config hash is one rollout of the running replicas', () => {
    const actual = [rep('web', 1), rep('web', 2)];
    assert.deepEqual(short(run([want('web', 2, 'h2')], actual)), ['rollout web [1,2]']);
  });

  test('a service a rollout owns is left alone', () => {
    assert.deepEqual(short(run([want('web', 3, 'h2')], [rep('web', 1)], { rolling: ['web'] })), []);
  });

  test('two containers with one index: the running one on the current config stays', () => {
    const a = rep('web', 1, { id: 'a', state: 'exited', exitCode: 1 });
    const b = rep('web', 1, { id: 'b' });
    assert.deepEqual(
      run([want('web', 1)], [a, b]).map((x) => (x.kind === 'remove' ? x.replica.id : x.kind)),
      ['a'],
    );
  });

  test('orphans are removed only with removeOrphans', () => {
    const actual = [rep('web', 1), rep('old', 1), rep('old', 2)];
    assert.deepEqual(short(run([want('web', 1)], actual)), []);
    assert.deepEqual(short(run([want('web', 1)], actual, { removeOrphans: true })), [
      'remove p-old-2 (orphan)',
      'remove p-old-1 (orphan)',
    ]);
  });

  test('a dependency scaled to 0 does not block', () => {
    const d = [want('web', 1, 'h1', { db: dep('service_healthy') }), want('db', 0)];
    assert.deepEqual(short(run(d, [])), ['create web#1']);
  });
});

describe('dependencyOrder', () => {
  test('dependencies come first, ties keep declaration order', () => {
    const d = [
      want('a', 1, 'h', { c: dep('service_started') }),
      want('b', 1),
      want('c', 1, 'h', { b: dep('service_started') }),
    ];
    assert.deepEqual(
      dependencyOrder(d).map((s) => s.name),
      ['b', 'c', 'a'],
    );
  });
});
