import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FilePositionStore } from '../../../sidecar/logs/positions.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

describe('FilePositionStore', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('logs-positions');
  });
  after(async () => {
    await removeDir(dir);
  });

  test('commits persist atomically and come back after a reopen', async () => {
    const file = join(dir, 'a', 'positions.json');
    const s = await FilePositionStore.open(file, { flushMs: 10_000 });
    s.commit('/var/log/x.log', { inode: 7, offset: 100, seq: 3, fingerprint: 'ab' });
    s.commit('/var/log/x.log', { inode: 7, offset: 250, seq: 9, fingerprint: 'ab' });
    s.commit('/var/log/y.log', { inode: 8, offset: 1, seq: 1 });
    s.remove('/var/log/y.log');
    await s.close();
    assert.deepEqual(await readdir(join(dir, 'a')), ['positions.json'], 'no temp file left behind');
    const again = await FilePositionStore.open(file);
    assert.deepEqual(again.get('/var/log/x.log'), { inode: 7, offset: 250, seq: 9, fingerprint: 'ab' });
    assert.equal(again.get('/var/log/y.log'), undefined);
    await again.close();
  });

  test('a crash loses only commits not yet written (never corrupts the file)', async () => {
    const file = join(dir, 'b', 'positions.json');
    const s = await FilePositionStore.open(file, { flushMs: 10_000 });
    s.commit('/p', { inode: 1, offset: 10, seq: 1 });
    await s.flush();
    s.commit('/p', { inode: 1, offset: 20, seq: 2 });
    s.abandon();
    const again = await FilePositionStore.open(file);
    assert.equal(again.get('/p')?.offset, 10);
    assert.ok(JSON.parse(await readFile(file, 'utf8')));
  });

  test('a corrupt store starts empty instead of failing the agent', async () => {
    const file = join(dir, 'c.json');
    await writeFile(file, '{"files": {"/p": {"inode": 1, "off');
    const s = await FilePositionStore.open(file);
    assert.equal(s.get('/p'), undefined);
  });
});
