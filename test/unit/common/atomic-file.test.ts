import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fsyncDir, fsyncPath, writeFileAtomic } from '../../../runtime/base/atomic-file.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

describe('atomic file writes', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('atomic-file');
  });
  after(async () => {
    await removeDir(dir);
  });

  const modeOf = async (p: string) => (await stat(p)).mode & 0o777;
  /** What the process umask makes of `mode` for a plain create. */
  const expectedMode = async (mode: number) => {
    const ref = join(dir, `ref-${mode.toString(8)}-${Math.random().toString(36).slice(2)}`);
    await writeFile(ref, '', { mode });
    const m = await modeOf(ref);
    await removeDir(ref);
    return m;
  };

  test('writes a new file with the content and mode 0644 by default', async () => {
    const p = join(dir, 'new.json');
    await writeFileAtomic(p, '{"a":1}\n');
    assert.equal(await readFile(p, 'utf8'), '{"a":1}\n');
    assert.equal(await modeOf(p), await expectedMode(0o644));
    assert.deepEqual(await readdir(dir), ['new.json']);
  });

  test('replaces an existing file, with the mode asked for', async () => {
    const p = join(dir, 'state.json');
    await writeFile(p, 'old content that is longer than the new one', { mode: 0o644 });
    await chmod(p, 0o644);
    await writeFileAtomic(p, 'new', { mode: 0o600 });
    assert.equal(await readFile(p, 'utf8'), 'new');
    assert.equal(await modeOf(p), 0o600);
  });

  test('bytes are written as is; sync: false still writes the whole file', async () => {
    const p = join(dir, 'bytes.bin');
    await writeFileAtomic(p, new Uint8Array([0, 1, 2, 255]), { sync: false });
    assert.deepEqual([...(await readFile(p))], [0, 1, 2, 255]);
  });

  test('mkdir: true creates the missing parent directories', async () => {
    const p = join(dir, 'a', 'b', 'c.json');
    await writeFileAtomic(p, 'x', { mkdir: true });
    assert.equal(await readFile(p, 'utf8'), 'x');
  });

  test('a missing directory without mkdir fails with ENOENT and creates nothing', async () => {
    const p = join(dir, 'missing', 'f.json');
    await assert.rejects(writeFileAtomic(p, 'x'), { code: 'ENOENT' });
    await assert.rejects(stat(join(dir, 'missing')), { code: 'ENOENT' });
  });

  test('a failed rename leaves the target untouched and no temp file behind', async () => {
    const sub = join(dir, 'fail');
    await mkdir(join(sub, 'target', 'child'), { recursive: true });
    // Renaming a file over a non-empty directory fails after the temp file was written.
    await assert.rejects(writeFileAtomic(join(sub, 'target'), 'x'), { code: 'EISDIR' });
    assert.deepEqual((await readdir(sub)).sort(), ['target']);
    assert.deepEqual(await readdir(join(sub, 'target')), ['child']);
  });

  test('concurrent writers of one path leave one whole version and no temp files', async () => {
    const sub = join(dir, 'race');
    await mkdir(sub);
    const p = join(sub, 'shared.txt');
    const versions = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(1000)}\n`);
    await Promise.all(versions.map((v) => writeFileAtomic(p, v)));
    assert.ok(versions.includes(await readFile(p, 'utf8')));
    assert.deepEqual(await readdir(sub), ['shared.txt']);
  });

  test('fsyncDir / fsyncPath: sync an existing directory and file; a missing path is ENOENT', async () => {
    await writeFile(join(dir, 'f'), 'x');
    await fsyncDir(dir);
    await fsyncPath(join(dir, 'f'));
    await assert.rejects(fsyncDir(join(dir, 'nope')), { code: 'ENOENT' });
  });
});
