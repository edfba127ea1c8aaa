/**
 * The tailer's first open with berth's kept old file (`<path>.1`,
 * TailerOptions.rotatedPath): a position on `.1` resumes there and goes on
 * into the file at the path; one on the file at the path skips `.1`; none
 * (or one on a file that is gone) reads `.1` from its start.
 */
import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileTailer, fileIdentity, type TailLine } from '../../../sidecar/logs/tailer.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const T = '2026-12-07T10:00:00.000000001+00:00';
const entry = (text: string) => `${T} stdout F ${text}\n`;

let dir: string;
before(async () => {
  dir = await tempDir('logs-tailer-rot');
});
after(async () => {
  await removeDir(dir);
});

async function pollAll(t: FileTailer): Promise<TailLine[]> {
  const out: TailLine[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await t.poll();
    out.push(...r.lines);
    if (!r.more && r.lines.length === 0) break;
  }
  return out;
}

/** `<name>.1` with old-1..old-3 and `<name>` with new-1..new-2. */
async function pair(name: string): Promise<{ path: string; old: string }> {
  const path = join(dir, name);
  const old = `${path}.1`;
  await writeFile(old, entry('old-1') + entry('old-2') + entry('old-3'));
  await writeFile(path, entry('new-1') + entry('new-2'));
  return { path, old };
}

const texts = (lines: TailLine[]) => lines.map((l) => l.line.text);

describe('FileTailer with a kept old file (.1)', () => {
  test('a position on .1 resumes there, then reads the file at the path', async () => {
    const { path, old } = await pair('on-old.log');
    const id = await fileIdentity(old);
    assert.ok(id);
    const t = new FileTailer(path, {
      rotatedPath: old,
      position: { inode: id.inode, offset: entry('old-1').length, fingerprint: id.fingerprint },
    });
    assert.deepEqual(texts(await pollAll(t)), ['old-2', 'old-3', 'new-1', 'new-2']);
    await appendFile(path, entry('new-3'));
    assert.deepEqual(texts(await pollAll(t)), ['new-3']);
    assert.equal(t.position()?.inode, (await fileIdentity(path))?.inode);
    await t.closeAll();
  });

  test('a position on the file at the path skips .1', async () => {
    const { path, old } = await pair('on-cur.log');
    const id = await fileIdentity(path);
    assert.ok(id);
    const t = new FileTailer(path, {
      rotatedPath: old,
      position: { inode: id.inode, offset: entry('new-1').length, fingerprint: id.fingerprint },
    });
    assert.deepEqual(texts(await pollAll(t)), ['new-2']);
    await t.closeAll();
  });

  test('no position, or one on a file that is gone: .1 from its start, then the path', async () => {
    const { path, old } = await pair('none.log');
    const fresh = new FileTailer(path, { rotatedPath: old });
    assert.deepEqual(texts(await pollAll(fresh)), ['old-1', 'old-2', 'old-3', 'new-1', 'new-2']);
    await fresh.closeAll();
    const stale = new FileTailer(path, {
      rotatedPath: old,
      position: { inode: 1, offset: 10, fingerprint: 'gone' },
    });
    assert.deepEqual(texts(await pollAll(stale)), ['old-1', 'old-2', 'old-3', 'new-1', 'new-2']);
    await stale.closeAll();
  });

  test('no file at the path (reopen not done yet): .1 is read and followed until one appears', async () => {
    const path = join(dir, 'pending.log');
    const old = `${path}.1`;
    await writeFile(old, entry('a'));
    const t = new FileTailer(path, { rotatedPath: old });
    assert.deepEqual(texts(await pollAll(t)), ['a']);
    // conmon still writes to the renamed file until it reopens.
    await appendFile(old, entry('b'));
    assert.deepEqual(texts(await pollAll(t)), ['b']);
    await writeFile(path, entry('c'));
    assert.deepEqual(texts(await pollAll(t)), ['c']);
    await t.closeAll();
  });

  test('without rotatedPath .1 is never read (observe mode, conmon rotation)', async () => {
    const { path } = await pair('plain.log');
    const t = new FileTailer(path);
    assert.deepEqual(texts(await pollAll(t)), ['new-1', 'new-2']);
    await t.closeAll();
  });
});
