import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { getAttribute } from '@napi-rs/xattr';
import { silentLogger } from '../../../runtime/base/log.js';
import { LayerStore } from '../../../runtime/image/layers.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, gzip, sha256, type TarEntry } from './_tar.js';

let root: string;
let store: LayerStore;
const tmp = () => join(root, 'tmp');

before(async () => {
  root = await tempDir('image-extract');
  store = new LayerStore(join(root, 'layers'), tmp(), silentLogger());
  await store.init();
});
after(async () => {
  await removeDir(root);
});

async function unpack(entries: TarEntry[], compress?: (b: Buffer) => Buffer): Promise<string> {
  const raw = await buildTar(entries);
  const ref = await store.unpack(Readable.from([compress ? compress(raw) : raw]), {
    label: 'layer test',
    expectedDiffId: sha256(raw),
  });
  return store.fsPath(ref.diffId);
}

/** Asserts the unpack is refused with a message naming the entry and the reason, and leaves nothing behind. */
async function refused(entries: TarEntry[], entry: string, reason: RegExp): Promise<void> {
  const before = await readdir(join(root, 'layers'));
  const raw = await buildTar(entries);
  await assert.rejects(store.unpack(Readable.from([raw]), { label: 'layer test' }), (err: Error) => {
    assert.equal((err as { code?: string }).code, 'InvalidArgument');
    assert.match(
      err.message,
      new RegExp(`entry ${JSON.stringify(entry).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    assert.match(err.message, reason);
    return true;
  });
  assert.deepEqual(await readdir(tmp()), [], 'temp dir removed');
  assert.deepEqual(await readdir(join(root, 'layers')), before, 'no layer added');
}

describe('layer extraction', () => {
  test('preserves files, modes, owners, mtimes, symlinks, hardlinks and fifos', async () => {
    const mtime = new Date('2023-05-06T07:08:09Z');
    const fs = await unpack(
      [
        { name: 'bin/', type: 'directory', mode: 0o755, mtime },
        { name: 'bin/tool', content: '#!/bin/sh\necho hi\n', mode: 0o4755, uid: 1000, gid: 1001, mtime },
        { name: 'bin/alias', type: 'symlink', linkname: 'tool', mtime },
        { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
        { name: 'run/pipe', type: 'fifo', mode: 0o600 },
        { name: 'etc/abs-link', type: 'symlink', linkname: '/etc/passwd' },
      ],
      gzip,
    );
    const tool = await stat(join(fs, 'bin/tool'));
    assert.equal(tool.mode & 0o7777, 0o4755);
    assert.equal(tool.uid, 1000);
    assert.equal(tool.gid, 1001);
    assert.equal(tool.mtime.getTime(), mtime.getTime());
    assert.equal(await readFile(join(fs, 'bin/tool'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(await readlink(join(fs, 'bin/alias')), 'tool');
    assert.equal((await stat(join(fs, 'bin/hard'))).ino, tool.ino);
    assert.equal(tool.nlink, 2);
    assert.ok((await lstat(join(fs, 'run/pipe'))).isFIFO());
    assert.equal(await readlink(join(fs, 'etc/abs-link')), '/etc/passwd');
    assert.equal(
      (await stat(join(fs, 'bin'))).mtime.getTime(),
      mtime.getTime(),
      'dir mtime set after its children',
    );
  });

  test('whiteouts become 0/0 char devices and opaque dirs get trusted.overlay.opaque', async () => {
    const fs = await unpack([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', content: '' },
      { name: 'var/cache/', type: 'directory' },
      { name: 'var/cache/.wh..wh..opq', content: '' },
      { name: 'var/cache/new', content: 'kept' },
    ]);
    const wh = await lstat(join(fs, 'etc/motd'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.deepEqual(await readdir(join(fs, 'etc')), ['motd'], 'no .wh. file left');
    assert.equal((await getAttribute(join(fs, 'var/cache'), 'trusted.overlay.opaque'))?.toString(), 'y');
    assert.deepEqual(await readdir(join(fs, 'var/cache')), ['new']);
  });

  test('a corrupt gzip layer is refused and leaves nothing', async () => {
    const raw = await buildTar([{ name: 'a', content: 'x'.repeat(10000) }]);
    const z = gzip(raw);
    const broken = Buffer.concat([z.subarray(0, z.length / 2), Buffer.alloc(100, 7)]);
    await assert.rejects(store.unpack(Readable.from([broken]), { label: 'layer broken' }));
    assert.deepEqual(await readdir(tmp()), []);
  });

  test('zstd layers unpack; a corrupt zstd layer is refused and leaves nothing', async () => {
    const zstd = (b: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: b });
    const fs = await unpack([{ name: 'z.txt', content: 'zstd works' }], zstd);
    assert.equal(await readFile(join(fs, 'z.txt'), 'utf8'), 'zstd works');
    const z = zstd(await buildTar([{ name: 'b', content: 'y'.repeat(50000) }]));
    const broken = Buffer.concat([z.subarray(0, 20), Buffer.alloc(200, 9)]);
    await assert.rejects(store.unpack(Readable.from([broken]), { label: 'layer zbroken' }), /zbroken/);
    assert.deepEqual(await readdir(tmp()), []);
  });

  test('a diff_id mismatch is refused', async () => {
    const raw = await buildTar([{ name: 'a', content: 'x' }]);
    await assert.rejects(
      store.unpack(Readable.from([raw]), { label: 'layer x', expectedDiffId: sha256('something else') }),
      /uncompressed content hashes to sha256:[a-f0-9]+, but the image config lists/,
    );
    assert.deepEqual(await readdir(tmp()), []);
  });

  test('refuses ".." escapes', () =>
    refused([{ name: 'a/../../etc/passwd', content: 'x' }], 'a/../../etc/passwd', /"\.\." components/));

  test('refuses absolute names', () =>
    refused([{ name: '/etc/passwd', content: 'x' }], '/etc/passwd', /absolute names/));

  test('refuses writing through a symlink that leaves the root', () =>
    refused(
      [
        { name: 'lib', type: 'symlink', linkname: '../../../../../tmp' },
        { name: 'lib/evil', content: 'x' },
      ],
      'lib/evil',
      /symlink in its path leads outside the root/,
    ));

  test('refuses symlink chains that leave the root', () =>
    refused(
      [
        { name: 'a', type: 'symlink', linkname: 'b' },
        { name: 'b', type: 'symlink', linkname: 'c/..' },
        { name: 'c/', type: 'directory' },
        { name: 'd', type: 'symlink', linkname: 'a/../..' },
        { name: 'd/x', content: 'x' },
      ],
      'd/x',
      /outside the root/,
    ));

  test('an absolute symlink is followed inside the root, never on the host', async () => {
    const fs = await unpack([
      { name: 'etc/', type: 'directory' },
      { name: 'conf', type: 'symlink', linkname: '/etc' },
      { name: 'conf/app.conf', content: 'in the layer' },
    ]);
    assert.equal(await readFile(join(fs, 'etc/app.conf'), 'utf8'), 'in the layer');
  });

  test('refuses a symlink loop', () =>
    refused(
      [
        { name: 'x', type: 'symlink', linkname: 'y' },
        { name: 'y', type: 'symlink', linkname: 'x' },
        { name: 'x/f', content: 'x' },
      ],
      'x/f',
      /too many levels of symbolic links/,
    ));

  test('refuses hardlinks that leave the root', () =>
    refused(
      [{ name: 'passwd', type: 'link', linkname: '../../../../etc/passwd' }],
      'passwd',
      /"\.\." components/,
    ));

  test('refuses absolute hardlink targets', () =>
    refused([{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }], 'passwd', /absolute names/));

  test('refuses hardlinks through a symlink out of the root', () =>
    refused(
      [
        { name: 'up', type: 'symlink', linkname: '../../../../../../' },
        { name: 'shadow', type: 'link', linkname: 'up/etc/shadow' },
      ],
      'shadow',
      /hardlink target "up\/etc\/shadow": a symlink in its path leads outside the root/,
    ));

  test('refuses hardlinks to files not in the layer', () =>
    refused([{ name: 'h', type: 'link', linkname: 'missing' }], 'h', /does not exist in this layer/));

  test('a file entry replaces a planted symlink instead of writing through it', async () => {
    const outside = join(root, 'outside.txt');
    const fs = await unpack([
      { name: 'target', type: 'symlink', linkname: outside },
      { name: 'target', content: 'replaced' },
    ]);
    assert.ok((await lstat(join(fs, 'target'))).isFile());
    await assert.rejects(stat(outside), { code: 'ENOENT' });
  });

  test('refuses character devices', () =>
    refused(
      [{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }],
      'dev/mem',
      /device nodes are not allowed .*character-device 1:1/,
    ));

  test('refuses block devices', () =>
    refused(
      [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }],
      'sda',
      /device nodes are not allowed/,
    ));

  test('a layer unpacked twice is stored once', async () => {
    const entries: TarEntry[] = [{ name: 'same', content: 'same' }];
    const a = await unpack(entries);
    const b = await unpack(entries);
    assert.equal(a, b);
    await mkdir(tmp(), { recursive: true });
    assert.deepEqual(await readdir(tmp()), []);
  });
});
