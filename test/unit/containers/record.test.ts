import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_RECORD_VERSION, RecordStore, upgradeRecord } from '../../../runtime/containers/record.js';
import { recordingLogger } from './fakes.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/state');

describe('container records: schema version', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-records-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a running and an exited record written by the release before versioning load as version 1', async () => {
    const root = join(dir, 'v0');
    for (const f of ['container-v0-running.json', 'container-v0-exited.json']) {
      const raw = JSON.parse(await readFile(join(FIXTURES, f), 'utf8'));
      assert.equal(raw.schemaVersion, undefined, 'the fixture is unversioned');
      // One container copied twice (running, then exited): one directory each.
      const sub = `${raw.id.slice(0, 60)}${f.includes('running') ? 'aaaa' : 'bbbb'}`;
      await mkdir(join(root, sub), { recursive: true });
      await cp(join(FIXTURES, f), join(root, sub, 'container.json'));
    }
    const recs = await new RecordStore(root).loadAll();
    assert.equal(recs.length, 2);
    const byState = Object.fromEntries(recs.map((r) => [r.state, r]));
    const running = byState.running;
    const exited = byState.exited;
    assert.ok(running && exited);
    assert.equal(running.schemaVersion, CONTAINER_RECORD_VERSION);
    assert.equal(running.name, 'fixture-web');
    assert.equal(running.config.restart.name, 'on-failure');
    assert.equal(running.config.restart.maxRetries, 3);
    assert.equal(running.config.health?.probe.kind, 'cmd');
    assert.deepEqual(running.ports, [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
    ]);
    assert.equal(running.network?.addresses.bridge !== undefined, true);
    assert.equal(typeof running.pid, 'number');
    assert.equal(exited.exitCode, 137);
    assert.equal(exited.stoppedByUser, true);
    assert.equal(exited.pid, undefined);
  });

  it('save writes the current version; a reload gives the same record', async () => {
    const root = join(dir, 'save');
    const raw = JSON.parse(await readFile(join(FIXTURES, 'container-v0-exited.json'), 'utf8'));
    const store = new RecordStore(root);
    await store.save(raw);
    const onDisk = JSON.parse(await readFile(join(root, raw.id, 'container.json'), 'utf8'));
    assert.equal(onDisk.schemaVersion, CONTAINER_RECORD_VERSION);
    const [back] = await store.loadAll();
    assert.deepEqual(back, { ...raw, schemaVersion: CONTAINER_RECORD_VERSION });
  });

  it('saves racing a delete (a health status landing during rm) neither fail it nor bring the record back', async () => {
    const root = join(dir, 'race');
    const raw = JSON.parse(await readFile(join(FIXTURES, 'container-v0-exited.json'), 'utf8'));
    const store = new RecordStore(root);
    await store.save(raw);
    // Saves in flight before and after the delete, unawaited as the health watcher's are.
    const saves = Array.from({ length: 20 }, (_, i) => store.save({ ...raw, restartCount: i }));
    const removal = store.delete(raw.id);
    const late = Array.from({ length: 20 }, () => store.save(raw));
    await Promise.all([...saves, removal, ...late]);
    assert.deepEqual(await store.loadAll(), []);
    await assert.rejects(readFile(join(root, raw.id, 'container.json')), { code: 'ENOENT' });
  });

  it('a file another writer puts in the directory while it is removed does not fail the delete', async () => {
    const root = join(dir, 'writer');
    const raw = JSON.parse(await readFile(join(FIXTURES, 'container-v0-exited.json'), 'utf8'));
    const store = new RecordStore(root);
    await store.save(raw);
    const d = join(root, raw.id);
    let stop = false;
    // conmon's log or exit file, or a log rotation, writing as rm walks the directory (bounded: 2,000 files).
    const writer = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) await writeFile(join(d, `f${i}`), 'x').catch(() => undefined);
    })();
    await new Promise((r) => setTimeout(r, 5));
    await store.delete(raw.id).finally(() => {
      stop = true;
    });
    await writer;
    assert.deepEqual(await readdir(root), [], 'nothing of the container is left, nor brought back');
  });

  it('a removal cut short by a crash (its directory moved aside) is finished by the next load', async () => {
    const root = join(dir, 'tomb');
    await mkdir(join(root, '.removed-abc'), { recursive: true });
    await writeFile(join(root, '.removed-abc', 'container.json'), '{}');
    assert.deepEqual(await new RecordStore(root).loadAll(), []);
    assert.deepEqual(await readdir(root), []);
  });

  it('a record from a newer release, a broken one and a dir without one are skipped; the first two are logged', async () => {
    const root = join(dir, 'skip');
    const { logger, lines } = recordingLogger();
    const raw = JSON.parse(await readFile(join(FIXTURES, 'container-v0-exited.json'), 'utf8'));
    await mkdir(join(root, 'future'), { recursive: true });
    await writeFile(join(root, 'future', 'container.json'), JSON.stringify({ ...raw, schemaVersion: 99 }));
    await mkdir(join(root, 'broken'), { recursive: true });
    await writeFile(join(root, 'broken', 'container.json'), '{"id": ');
    await mkdir(join(root, 'unfinished'), { recursive: true });
    assert.deepEqual(await new RecordStore(root, logger).loadAll(), []);
    const skipped = lines.filter((l) => l.msg === 'container record not loadable; container skipped');
    assert.deepEqual(skipped.map((l) => l.id).sort(), ['broken', 'future']);
    const future = skipped.find((l) => l.id === 'future');
    assert.match(
      String((future?.err as { message?: string })?.message),
      /schemaVersion 99 is newer than this release reads \(1\)/,
    );
    assert.deepEqual(await new RecordStore(join(dir, 'none')).loadAll(), []);
  });

  it('upgradeRecord refuses what is not a record', () => {
    assert.throws(() => upgradeRecord([]), /not a JSON object/);
    assert.throws(
      () => upgradeRecord({ schemaVersion: 0, id: 'x', state: 'exited', config: {} }),
      /not a version/,
    );
    assert.throws(() => upgradeRecord({ id: 'x' }), /missing id, state or config/);
  });
});
