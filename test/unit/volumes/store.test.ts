import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../../../runtime/base/errors.js';
import { VolumeStore } from '../../../runtime/volumes/store.js';

const root = mkdtempSync(join(tmpdir(), 'berth-volumes-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('create is idempotent and keeps data; list is sorted; remove deletes the data', async () => {
  const store = new VolumeStore(root);
  const v = await store.create('data');
  assert.equal(v.mountpoint, join(root, 'data', '_data'));
  writeFileSync(join(v.mountpoint, 'f'), 'kept');
  assert.deepEqual(await store.create('data'), v);
  assert.ok(existsSync(join(v.mountpoint, 'f')), 'a second create leaves the data alone');
  await store.create('cache');
  assert.deepEqual(
    (await store.list()).map((x) => x.name),
    ['cache', 'data'],
  );
  await store.remove('data');
  assert.ok(!existsSync(join(root, 'data')));
  await assert.rejects(store.remove('data'), NotFoundError);
  await assert.rejects(store.get('data'), /no such volume: data/);
});

test('names that are not volume names never reach the file system', async () => {
  const store = new VolumeStore(root);
  for (const bad of ['..', '../etc', 'a/b', '.hidden', 'x', '', 'has space']) {
    await assert.rejects(store.create(bad), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, bad);
      assert.equal(e.field, 'volume');
      return true;
    });
  }
  assert.ok(!readdirSync(root).some((n) => n === 'etc' || n === 'b'));
});

test('sweep finishes removals a crash interrupted; list never shows them', async () => {
  const store = new VolumeStore(root);
  mkdirSync(join(root, '.removing-old-1-2', '_data'), { recursive: true });
  assert.ok(!(await store.list()).some((v) => v.name.includes('removing')));
  await store.sweep();
  assert.ok(!existsSync(join(root, '.removing-old-1-2')));
});
