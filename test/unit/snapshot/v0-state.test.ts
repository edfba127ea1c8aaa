/**
 * snapshot.json as today's release wrote it (test/fixtures/state/v0, no
 * schemaVersion) is listed with its layers; a newer one is refused naming
 * the file (issue 13). The mounts come from a mountinfo fixture: no root.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isFailedPrecondition } from '../../../runtime/base/errors.js';
import { OverlaySnapshotter } from '../../../runtime/snapshot/overlay.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');
const KEY = 'e7c50af766caaa893215849e3f6bf79d4ba770b560c4cdb68c75a14940dcf799';

let dir: string;
before(async () => {
  dir = await tempDir('snapshot-v0');
});
after(async () => {
  await removeDir(dir);
});

async function setUp(name: string, meta?: object): Promise<OverlaySnapshotter> {
  const root = join(dir, name, 'snapshots');
  await mkdir(join(root, KEY, 'rootfs'), { recursive: true });
  if (meta) await writeFile(join(root, KEY, 'snapshot.json'), JSON.stringify(meta));
  else await copyFile(join(V0, 'snapshot.json'), join(root, KEY, 'snapshot.json'));
  const mountinfo = join(dir, name, 'mountinfo');
  await writeFile(
    mountinfo,
    `36 35 0:40 / ${join(root, KEY, 'rootfs')} rw,relatime - overlay overlay rw,lowerdir=/x\n`,
  );
  return new OverlaySnapshotter({ root, mountinfoPath: mountinfo });
}

test('the v0 snapshot.json is listed with its layer dirs', async () => {
  const s = await setUp('v0');
  const v0 = JSON.parse(await readFile(join(V0, 'snapshot.json'), 'utf8')) as { layerDirs: string[] };
  assert.equal(v0.layerDirs.length, 1);
  const list = await s.list();
  assert.deepEqual(list, [
    { key: KEY, rootfs: join(dir, 'v0', 'snapshots', KEY, 'rootfs'), mounted: true, layerDirs: v0.layerDirs },
  ]);
});

test('a v1 snapshot.json is listed; a newer one is refused naming the file and both versions', async () => {
  const v1 = await setUp('v1', { schemaVersion: 1, layerDirs: ['/l/fs'] });
  assert.deepEqual(
    (await v1.list()).map((i) => i.layerDirs),
    [['/l/fs']],
  );
  const newer = await setUp('v2', { schemaVersion: 2, layerDirs: ['/l/fs'] });
  await assert.rejects(
    newer.list(),
    (err: Error) =>
      isFailedPrecondition(err) &&
      err.message.includes(`${KEY}/snapshot.json`) &&
      err.message.includes('schemaVersion 2') &&
      err.message.includes('(1)'),
  );
});
