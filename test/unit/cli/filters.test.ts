import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { matchesFilters, parseFilters } from '../../../src/cli/filters.js';

const box = (o: Partial<ContainerDescriptor>): ContainerDescriptor =>
  ({
    id: 'abc123'.padEnd(64, '0'),
    name: 'web-1',
    image: 'nginx:1.27',
    imageName: 'nginx',
    imageTag: '1.27',
    labels: { app: 'shop', tier: 'front' },
    state: 'running',
    health: 'healthy',
    ...o,
  }) as ContainerDescriptor;

const keep = (c: ContainerDescriptor, ...f: string[]) => matchesFilters(c, parseFilters(f));

test('each key as Docker reads it', () => {
  const c = box({});
  assert.ok(keep(c, 'id=abc1'));
  assert.ok(!keep(c, 'id=bc'));
  assert.ok(keep(c, 'name=web'));
  assert.ok(keep(c, 'label=app'));
  assert.ok(keep(c, 'label=app=shop'));
  assert.ok(!keep(c, 'label=app=blog'));
  assert.ok(!keep(c, 'label=owner'));
  assert.ok(keep(c, 'status=running'));
  assert.ok(!keep(c, 'status=exited'));
  assert.ok(keep(c, 'health=healthy'));
  for (const a of ['nginx', 'nginx:1.27']) assert.ok(keep(c, `ancestor=${a}`), a);
  assert.ok(!keep(c, 'ancestor=busybox'));
});

test('one key: any value; several keys: all of them', () => {
  const c = box({});
  assert.ok(keep(c, 'status=exited', 'status=running'));
  assert.ok(keep(c, 'label=app=shop', 'name=web'));
  assert.ok(!keep(c, 'label=app=shop', 'name=db'));
  assert.ok(keep(c), 'no filter keeps everything');
});

test('a wrong filter names --filter and says what is allowed', () => {
  const bad = (f: string, re: RegExp) =>
    assert.throws(
      () => parseFilters([f]),
      (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message),
      f,
    );
  bad(
    'colour=red',
    /^--filter: unknown key "colour" in "colour=red" \(one of id, name, label, status, health, ancestor\)/,
  );
  bad('status=up', /^--filter: status must be one of created, running/);
  bad('health=ok', /^--filter: health must be one of none, starting, healthy, unhealthy/);
  bad('name=', /^--filter: "name=" needs a value/);
});
