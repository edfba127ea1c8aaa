/**
 * runtime/source/observe/safe-read.ts: a path is read only while it stays
 * under its root after symlinks. Names that merely start with `..` are inside
 * (the kubelet's atomic writer puts every ConfigMap and Secret volume's files
 * behind `..data` -> `..<timestamp>/`, which is how --services-dir looks in a
 * pod); `..` itself and links out of the root are not.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isUnder, readBounded } from '../../../runtime/source/observe/safe-read.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let dir = '';
before(async () => {
  dir = await tempDir('safe-read');
});
after(() => removeDir(dir));

test('isUnder: names starting with .. are inside, .. and ../x are not', () => {
  assert.equal(isUnder('/r', '/r'), true);
  assert.equal(isUnder('/r', '/r/..data/x'), true);
  assert.equal(isUnder('/r', '/r/..2026_12_07_12_00_00.000000001/services.json'), true);
  assert.equal(isUnder('/r', '/'), false);
  assert.equal(isUnder('/r', '/r2/x'), false);
  assert.equal(isUnder('/r', '/other'), false);
});

test('readBounded reads a file of a ConfigMap volume through ..data, and refuses a link out of the root', async () => {
  const vol = join(dir, 'services');
  const stamp = '..2026_12_07_12_00_00.000000001';
  await mkdir(join(vol, stamp), { recursive: true });
  await writeFile(join(vol, stamp, 'services.json'), '{"service":{"name":"web","port":80}}');
  await symlink(stamp, join(vol, '..data'));
  await symlink('..data/services.json', join(vol, 'services.json'));
  assert.equal(
    await readBounded(vol, join(vol, 'services.json'), 1024),
    '{"service":{"name":"web","port":80}}',
  );
  await writeFile(join(dir, 'secret'), 'no');
  await symlink('../secret', join(vol, 'escape.json'));
  assert.equal(await readBounded(vol, join(vol, 'escape.json'), 1024), undefined);
});
