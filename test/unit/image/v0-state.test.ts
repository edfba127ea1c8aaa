/**
 * The image index and layer.json as today's release wrote them
 * (test/fixtures/state/v0, no schemaVersion) load through the real readers;
 * what this release writes carries schemaVersion 1; a newer file is refused
 * without losing anything (issue 13).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isFailedPrecondition } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { LayerStore } from '../../../runtime/image/layers.js';
import { RefsIndex } from '../../../runtime/image/refs-index.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');
const IMAGE_ID = 'sha256:d32be8d167ea3a73dde87353e1893192f83016668c0ef8a528c9f02f308519a6';
const DIFF_ID = 'sha256:0013de67f64bb12ae7d80ffba1637ff6b0e958f4c9c5e5e7154b21913a329196';

let dir: string;
before(async () => {
  dir = await tempDir('image-v0');
});
after(async () => {
  await removeDir(dir);
});

test('the v0 image index loads: the image, its ref and its layer are known', async () => {
  const path = join(dir, 'index.json');
  await copyFile(join(V0, 'index.json'), path);
  const idx = new RefsIndex(path);
  await idx.load();
  assert.equal(idx.lookup('test/busybox:v0'), IMAGE_ID);
  assert.deepEqual(idx.refsOf(IMAGE_ID), ['test/busybox:v0']);
  assert.deepEqual(
    idx.images().map((i) => i.id),
    [IMAGE_ID],
  );
  assert.deepEqual(idx.image(IMAGE_ID)?.layers, [{ diffId: DIFF_ID, size: 2127872 }]);
  // The next write stamps version 1 (and keeps `version` for older releases); it loads again.
  await idx.update((d) => {
    d.refs['test/busybox:again'] = IMAGE_ID;
  });
  const written = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  assert.equal(written.schemaVersion, 1);
  assert.equal(written.version, 1);
  const again = new RefsIndex(path);
  await again.load();
  assert.deepEqual(again.refsOf(IMAGE_ID), ['test/busybox:again', 'test/busybox:v0']);
});

test('a newer image index is refused at start and gc deletes nothing', async () => {
  const root = join(dir, 'newer');
  const layerDir = join(root, 'images/layers', DIFF_ID.slice(7));
  await mkdir(join(layerDir, 'fs'), { recursive: true });
  await copyFile(join(V0, 'layer.json'), join(layerDir, 'layer.json'));
  const v0 = JSON.parse(await readFile(join(V0, 'index.json'), 'utf8')) as object;
  await writeFile(join(root, 'images/index.json'), JSON.stringify({ ...v0, schemaVersion: 2 }));
  const store = new ImageStore({ root, logger: silentLogger() });
  const refused = (err: Error) =>
    isFailedPrecondition(err) &&
    err.message.includes(join(root, 'images/index.json')) &&
    err.message.includes('schemaVersion 2') &&
    err.message.includes('(1)');
  await assert.rejects(store.ready(), refused);
  await assert.rejects(store.gc(), refused);
  assert.ok((await stat(layerDir)).isDirectory(), 'the layer is still there');
});

test('the v0 layer.json is read; a new one is written with schemaVersion 1; a newer one is refused', async () => {
  const layers = join(dir, 'layers');
  const hex = DIFF_ID.slice(7);
  await mkdir(join(layers, hex), { recursive: true });
  await copyFile(join(V0, 'layer.json'), join(layers, hex, 'layer.json'));
  const store = new LayerStore(layers, join(dir, 'tmp'), silentLogger());
  await store.init();
  assert.deepEqual(await store.info(DIFF_ID), { diffId: DIFF_ID, size: 2127872 });
  await writeFile(
    join(layers, hex, 'layer.json'),
    JSON.stringify({ schemaVersion: 1, diffId: DIFF_ID, size: 5 }),
  );
  assert.deepEqual(await store.info(DIFF_ID), { diffId: DIFF_ID, size: 5 });
  await writeFile(
    join(layers, hex, 'layer.json'),
    JSON.stringify({ schemaVersion: 3, diffId: DIFF_ID, size: 5 }),
  );
  await assert.rejects(
    store.info(DIFF_ID),
    (err: Error) =>
      isFailedPrecondition(err) && err.message.includes(`${hex}/layer.json`) && err.message.includes('3'),
  );
});
