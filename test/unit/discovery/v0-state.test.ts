/**
 * The local catalog's file as today's release wrote it
 * (test/fixtures/state/v0/catalog.json, no schemaVersion) loads; this
 * release writes schemaVersion 1; a newer file is refused at start and kept
 * (issue 13).
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');
const ID = 'e7c50af766caaa893215849e3f6bf79d4ba770b560c4cdb68c75a14940dcf799';

let dir: string;
before(async () => {
  dir = await tempDir('catalog-v0');
});
after(async () => {
  await removeDir(dir);
});

test('the v0 catalog loads: the web instance, its port, health and container', async () => {
  const path = join(dir, 'catalog.json');
  await copyFile(join(V0, 'catalog.json'), path);
  const cat = new LocalCatalog({ nodeName: 'vm', path });
  try {
    const owned = await cat.owned();
    assert.equal(owned.length, 1);
    const web = owned[0];
    assert.ok(web);
    assert.equal(web.id, 'vm:web:80');
    assert.equal(web.service, 'web');
    assert.equal(web.port, 18080);
    assert.equal(web.health, 'passing');
    assert.equal(web.containerId, ID);
    assert.equal(web.datacenter, 'dc1');
    assert.deepEqual(
      cat.view().instances.map((i) => i.id),
      ['vm:web:80'],
    );
    // The next write stamps version 1 (and keeps `version`, which older releases check); it loads again.
    await cat.setMaintenance('vm:web:80', true, 'v0 test');
  } finally {
    await cat.close();
  }
  const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  assert.equal(raw.schemaVersion, 1);
  assert.equal(raw.version, 1);
  const again = new LocalCatalog({ nodeName: 'vm', path });
  assert.equal((await again.owned())[0]?.health, 'maintenance');
  await again.close();
});

test('a newer catalog file is refused naming the file and both versions, and kept', async () => {
  const path = join(dir, 'newer.json');
  const v0 = JSON.parse(await readFile(join(V0, 'catalog.json'), 'utf8')) as object;
  const text = JSON.stringify({ ...v0, schemaVersion: 2 });
  await writeFile(path, text);
  assert.throws(
    () => new LocalCatalog({ nodeName: 'vm', path }),
    (err: Error) =>
      err.message.includes(path) && err.message.includes('schemaVersion 2 ') && err.message.includes('(1)'),
  );
  assert.equal(await readFile(path, 'utf8'), text);
});
