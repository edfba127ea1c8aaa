import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { catalogConformance, findIn, sampleInstance } from './catalog-conformance.js';

catalogConformance('local (in memory)', async () => {
  const catalog = new LocalCatalog({ nodeName: 'host-a', datacenter: 'dc1' });
  return { catalog, nodeName: 'host-a', cleanup: () => catalog.close() };
});

describe('LocalCatalog persistence', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('local-catalog');
  });
  after(async () => {
    await removeDir(dir);
  });

  test('a new catalog over the same file has the same instances, health and maintenance', async () => {
    const path = join(dir, 'catalog.json');
    const a = new LocalCatalog({ nodeName: 'host-a', path });
    const web = sampleInstance('host-a');
    const db = sampleInstance('host-a', { service: 'db', port: 5432 });
    await a.register(web);
    await a.register(db);
    await a.setHealth(db.id, 'critical', 'down');
    await a.setMaintenance(web.id, true, 'drain');
    await a.close();

    const b = new LocalCatalog({ nodeName: 'host-a', path });
    const v = b.view();
    assert.equal(findIn(v, web.id)?.health, 'maintenance');
    assert.equal(findIn(v, db.id)?.health, 'critical');
    assert.equal(findIn(v, db.id)?.port, 5432);
    await b.setMaintenance(web.id, false);
    assert.equal(findIn(b.view(), web.id)?.health, 'passing', 'the check status survived under maintenance');
    await b.close();
  });

  test('the file is valid JSON after every write and no temp files are left behind', async () => {
    const path = join(dir, 'atomic.json');
    const c = new LocalCatalog({ nodeName: 'host-a', path });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.register(sampleInstance('host-a', { port: 1000 + i }))),
    );
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { entries: unknown[] };
    assert.equal(parsed.entries.length, 20);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
    await c.close();
  });

  test('a corrupt file is reported with its path, not silently emptied', async () => {
    const path = join(dir, 'corrupt.json');
    await writeFile(path, '{not json');
    assert.throws(
      () => new LocalCatalog({ nodeName: 'host-a', path }),
      (e) => String(e).includes(path),
    );
  });

  test('view() is synchronous and reflects a write as soon as it resolves', async () => {
    const c = new LocalCatalog({ nodeName: 'host-a' });
    const inst = sampleInstance('host-a');
    await c.register(inst);
    assert.equal(findIn(c.view(), inst.id)?.port, inst.port);
    assert.equal(c.view().stale, false);
    await c.close();
  });
});
