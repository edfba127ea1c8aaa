/**
 * The log positions file as today's release wrote it
 * (test/fixtures/state/v0/positions.json, no schemaVersion): shipping
 * resumes at the saved offset; this release writes schemaVersion 1; a newer
 * file is refused at open and kept (issue 13).
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FilePositionStore } from '../../../sidecar/logs/positions.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');

let dir: string;
let logPath: string;
before(async () => {
  dir = await tempDir('positions-v0');
  const v0 = JSON.parse(await readFile(join(V0, 'positions.json'), 'utf8')) as {
    files: Record<string, unknown>;
  };
  const paths = Object.keys(v0.files);
  assert.equal(paths.length, 1);
  logPath = paths[0] as string;
});
after(async () => {
  await removeDir(dir);
});

test('the v0 positions load: the container log resumes at the saved offset and sequence', async () => {
  const file = join(dir, 'positions.json');
  await copyFile(join(V0, 'positions.json'), file);
  const store = await FilePositionStore.open(file, { flushMs: 10_000 });
  assert.deepEqual(store.get(logPath), {
    inode: 10617426,
    offset: 156,
    seq: 3,
    fingerprint: 'b50e008ea47ade0f',
  });
  store.commit(logPath, { inode: 10617426, offset: 200, seq: 4, fingerprint: 'b50e008ea47ade0f' });
  await store.close();
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  assert.equal(raw.schemaVersion, 1);
  assert.equal(raw.version, 1);
  const again = await FilePositionStore.open(file);
  assert.equal(again.get(logPath)?.offset, 200);
  await again.close();
});

test('a newer positions file is refused naming the file and both versions, and kept', async () => {
  const file = join(dir, 'newer.json');
  const v0 = JSON.parse(await readFile(join(V0, 'positions.json'), 'utf8')) as object;
  const text = JSON.stringify({ ...v0, schemaVersion: 2 });
  await writeFile(file, text);
  await assert.rejects(
    FilePositionStore.open(file),
    (err: Error) =>
      err.message.includes(file) && err.message.includes('schemaVersion 2 ') && err.message.includes('(1)'),
  );
  assert.equal(await readFile(file, 'utf8'), text);
});
