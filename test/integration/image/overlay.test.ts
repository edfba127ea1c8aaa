import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, dockerArchive, makeImage } from '../../unit/image/_tar.js';

const run = promisify(execFile);
let dir: string;
let mnt: string;
let mounted = false;

before(async () => {
  dir = await tempDir('image-overlay');
  mnt = join(dir, 'mnt');
  await mkdir(mnt);
});
after(async () => {
  if (mounted) await run('umount', [mnt]).catch(() => run('umount', ['-l', mnt]));
  if (dir) await removeDir(dir);
});

describe('unpacked layers under a real overlayfs', () => {
  test('whiteouts hide lower files and opaque dirs hide lower contents', async () => {
    const lower = await buildTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/motd', content: 'old motd' },
      { name: 'etc/keep', content: 'kept' },
      { name: 'cache/', type: 'directory' },
      { name: 'cache/a', content: 'a' },
      { name: 'cache/b', content: 'b' },
    ]);
    const upper = await buildTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', content: '' },
      { name: 'cache/', type: 'directory' },
      { name: 'cache/.wh..wh..opq', content: '' },
      { name: 'cache/c', content: 'c' },
    ]);
    const store = new ImageStore({ root: join(dir, 'state'), logger: silentLogger() });
    await store.load(Readable.from([await dockerArchive(makeImage([lower, upper]), ['ovl:1'])]));
    const { layerDirs } = await store.resolve('ovl:1');
    await run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${[...layerDirs].reverse().join(':')}`,
      mnt,
    ]);
    mounted = true;
    assert.deepEqual((await readdir(join(mnt, 'etc'))).sort(), ['keep']);
    assert.equal(await readFile(join(mnt, 'etc/keep'), 'utf8'), 'kept');
    assert.deepEqual(await readdir(join(mnt, 'cache')), ['c']);
  });
});
