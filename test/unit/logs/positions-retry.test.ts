import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FilePositionStore } from '../../../sidecar/logs/positions.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let dir: string;
before(async () => {
  dir = await tempDir('logs-positions-retry');
});
after(async () => {
  await removeDir(dir);
});

test('a failed positions write does not stop the next one', async () => {
  const sub = join(dir, 'gone');
  const file = join(sub, 'positions.json');
  const s = await FilePositionStore.open(file, { flushMs: 10_000 });
  await rm(sub, { recursive: true, force: true });
  s.commit('/p', { inode: 1, offset: 10, seq: 1 });
  await assert.rejects(s.flush(), 'the directory is gone: the write fails');
  await mkdir(sub, { recursive: true });
  s.commit('/p', { inode: 1, offset: 20, seq: 2 });
  await s.flush();
  const saved = JSON.parse(await readFile(file, 'utf8')) as { files: Record<string, { offset: number }> };
  assert.equal(saved.files['/p']?.offset, 20);
  await s.close();
});
