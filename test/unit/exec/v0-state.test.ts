/**
 * meta.json as today's release wrote it (test/fixtures/state/v0, no
 * schemaVersion) is read; this release writes schemaVersion 1; a newer one
 * is not read and is reported, as a missing one would be (issue 13).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isFailedPrecondition } from '../../../runtime/base/errors.js';
import { readMeta, StateLayout, writeMeta } from '../../../runtime/exec/state.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');
const ID = 'e7c50af766caaa893215849e3f6bf79d4ba770b560c4cdb68c75a14940dcf799';

let dir: string;
let layout: StateLayout;
before(async () => {
  dir = await tempDir('exec-v0');
  layout = new StateLayout(dir);
  await mkdir(layout.containerDir(ID), { recursive: true });
});
after(async () => {
  await removeDir(dir);
});

test('the v0 meta.json is read: bundle, log path, OOM counter, creation time', async () => {
  await copyFile(join(V0, 'exec-meta.json'), layout.metaFile(ID));
  const meta = await readMeta(layout, ID, (err) => assert.fail(err));
  assert.ok(meta);
  assert.match(meta.bundleDir, new RegExp(`/run/containers/${ID}$`));
  assert.match(meta.logPath, new RegExp(`/state/containers/${ID}/container.log$`));
  assert.match(meta.oomCounterPath ?? '', /memory\.oom_control$/);
  assert.equal(meta.createdAt, '2026-12-07T13:01:44.201Z');
  assert.deepEqual(Object.keys(meta).sort(), ['bundleDir', 'createdAt', 'logPath', 'oomCounterPath']);
});

test('writeMeta stamps schemaVersion 1; readMeta gives back what was written', async () => {
  const meta = { bundleDir: '/b', logPath: '/l', createdAt: '2026-12-07T00:00:00.000Z' };
  await writeMeta(layout, ID, meta);
  const raw = JSON.parse(await readFile(layout.metaFile(ID), 'utf8')) as Record<string, unknown>;
  assert.equal(raw.schemaVersion, 1);
  assert.deepEqual(await readMeta(layout, ID), meta);
});

test('a newer meta.json is not read and is reported naming the file and both versions', async () => {
  await writeFile(layout.metaFile(ID), JSON.stringify({ schemaVersion: 2, bundleDir: '/b' }));
  const refused: Error[] = [];
  assert.equal(await readMeta(layout, ID, (e) => refused.push(e)), undefined);
  assert.equal(refused.length, 1);
  const err = refused[0] as Error;
  assert.ok(isFailedPrecondition(err));
  assert.ok(
    err.message.includes(layout.metaFile(ID)) &&
      err.message.includes('schemaVersion 2 ') &&
      err.message.includes('(1)'),
    err.message,
  );
});
