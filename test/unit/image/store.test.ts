import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, beforeEach, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, dockerArchive, gzip, makeImage, ociLayout, sha256 } from './_tar.js';

let root: string;
let store: ImageStore;
let events: Array<[string, { ref: string; id: string }]>;

const base = () =>
  buildTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/sh', content: 'shell', mode: 0o755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', content: 'hello' },
  ]);
const top = () =>
  buildTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd', content: '' },
    { name: 'app', content: 'app' },
  ]);

const never = () => false;

beforeEach(async () => {
  if (root) await removeDir(root);
  root = await tempDir('image-store');
  events = [];
  store = new ImageStore({
    root,
    logger: silentLogger(),
    platform: { os: 'linux', architecture: 'amd64' },
    onEvent: (topic, e) => events.push([topic, e]),
  });
});
after(async () => {
  await removeDir(root);
});

describe('ImageStore', () => {
  test('loads a docker-archive and resolves it for the container manager', async () => {
    const img = makeImage([await base(), await top()], { Cmd: ['/app'], Env: ['A=1'] });
    const tar = await dockerArchive(img, ['busybox:latest', 'docker.io/library/busybox:1']);
    const [sum, ...rest] = await store.load(Readable.from([tar]));
    assert.equal(rest.length, 0);
    assert.equal(sum?.id, img.configDigest);
    assert.deepEqual(sum?.refs, ['busybox:1', 'busybox:latest']);
    assert.equal(sum?.created, '2024-01-02T03:04:05Z');
    assert.deepEqual(events, [
      ['image.loaded', { ref: 'busybox:latest', id: img.configDigest }],
      ['image.loaded', { ref: 'busybox:1', id: img.configDigest }],
    ]);

    const r = await store.resolve('busybox');
    assert.equal(r.id, img.configDigest);
    assert.equal(r.ref, 'busybox:latest');
    assert.equal(r.name, 'busybox');
    assert.equal(r.tag, 'latest');
    assert.deepEqual(r.config, { Cmd: ['/app'], Env: ['A=1'] });
    assert.equal(r.layerDirs.length, 2);
    assert.equal(r.layerDirs[0], join(root, 'images/layers', (img.diffIds[0] as string).slice(7), 'fs'));
    assert.equal(await readFile(join(r.layerDirs[0] as string, 'etc/motd'), 'utf8'), 'hello');
    assert.ok(
      (await stat(join(r.layerDirs[1] as string, 'etc/motd'))).isCharacterDevice(),
      'whiteout in the upper layer',
    );

    const byId = await store.resolve(img.configDigest.slice(7, 19));
    assert.equal(byId.id, img.configDigest);
    assert.equal(byId.name, 'busybox');
    await assert.rejects(store.resolve('nope:1'), {
      code: 'NotFound',
      message: /image nope:1: not in the image store/,
    });

    const index = JSON.parse(await readFile(join(root, 'images/index.json'), 'utf8'));
    assert.equal(index.refs['busybox:latest'], img.configDigest);
  });

  test('loads an OCI layout (gzip and zstd layers) and shares layers between images', async () => {
    const b = await base();
    const one = makeImage([b]);
    const two = makeImage([b, await top()], { Cmd: ['two'] });
    const zstd = (x: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: x });
    const a = await ociLayout(one, '127.0.0.1:5000/app:1');
    const z = await ociLayout(two, 'docker.io/team/app:2', zstd);
    const [s1] = await store.load(Readable.from([gzip(a.tar)]));
    const [s2] = await store.load(Readable.from([z.tar]));
    assert.deepEqual(s1?.refs, ['127.0.0.1:5000/app:1']);
    assert.deepEqual(s2?.refs, ['team/app:2']);
    const r1 = await store.resolve('127.0.0.1:5000/app:1');
    const r2 = await store.resolve('team/app:2');
    assert.equal(r1.name, '127.0.0.1:5000/app');
    assert.equal(r1.tag, '1');
    assert.equal(r2.layerDirs[0], r1.layerDirs[0], 'the common base layer is unpacked once');
    assert.equal((await readdir(join(root, 'images/layers'))).length, 2);
    assert.ok((await readdir(join(root, 'images/blobs/sha256'))).includes(a.manifestDigest.slice(7)));
  });

  test('loads the newer docker save layout (blobs/sha256 paths) with a symlinked duplicate layer', async () => {
    const l = await base();
    const img = makeImage([l, l]);
    const lhex = sha256(l).slice(7);
    const tar = await buildTar([
      { name: 'blobs/sha256/', type: 'directory' },
      { name: `blobs/sha256/${img.configDigest.slice(7)}`, content: img.config },
      { name: `blobs/sha256/${lhex}`, content: l },
      { name: 'dup/layer.tar', type: 'symlink', linkname: `../blobs/sha256/${lhex}` },
      {
        name: 'manifest.json',
        content: JSON.stringify([
          {
            Config: `blobs/sha256/${img.configDigest.slice(7)}`,
            RepoTags: ['new:1'],
            Layers: [`blobs/sha256/${lhex}`, 'dup/layer.tar'],
          },
        ]),
      },
    ]);
    const [sum] = await store.load(Readable.from([tar]));
    assert.equal(sum?.id, img.configDigest);
    const r = await store.resolve('new:1');
    assert.equal(r.layerDirs.length, 2);
    assert.equal(r.layerDirs[0], r.layerDirs[1]);
  });

  test('archive members that escape are refused', async () => {
    const tar = await buildTar([{ name: '../manifest.json', content: '[]' }]);
    await assert.rejects(store.load(Readable.from([tar])), {
      code: 'InvalidArgument',
      message: /archive: member "..\/manifest.json" refused: ".." components are not allowed/,
    });
    const link = await buildTar([
      { name: 'evil', type: 'symlink', linkname: '../../etc/passwd' },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'evil', RepoTags: [], Layers: [] }]) },
    ]);
    await assert.rejects(store.load(Readable.from([link])), {
      message: /member "evil" points outside the archive/,
    });
  });

  test('an archive whose layer does not match its diff_id is rejected and leaves nothing', async () => {
    const img = makeImage([await base()]);
    const tampered = { ...img, layers: [await buildTar([{ name: 'evil', content: 'x' }])] };
    const tar = await dockerArchive(tampered, ['bad:1']);
    await assert.rejects(store.load(Readable.from([tar])), /hashes to .* but the image config lists/);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(root, 'images/layers')), []);
    assert.deepEqual(await readdir(join(root, 'images/tmp')), []);
    assert.deepEqual(await readdir(join(root, 'images/blobs/sha256')), [], 'the config blob is not kept');
  });

  test('an OCI blob whose content does not match its digest is rejected', async () => {
    const img = makeImage([await base()]);
    const { tar } = await ociLayout({ ...img, config: Buffer.from(`${img.config.toString()} `) }, 'x/y:1');
    await assert.rejects(store.load(Readable.from([tar])), {
      code: 'InvalidArgument',
      message: /content hashes to/,
    });
    assert.deepEqual(await store.list(), []);
  });

  test('a tarball that is neither format is refused', async () => {
    const tar = await buildTar([{ name: 'hello.txt', content: 'hi' }]);
    await assert.rejects(store.load(Readable.from([tar])), /not a docker-archive .* nor an OCI image layout/);
  });

  test('import turns a rootfs tarball into a one-layer image', async () => {
    const raw = await base();
    const sum = await store.importRootfs(Readable.from([gzip(raw)]), 'imported');
    assert.deepEqual(sum.refs, ['imported:latest']);
    const r = await store.resolve('imported:latest');
    assert.equal(r.layerDirs.length, 1);
    assert.equal(r.layerDirs[0], join(root, 'images/layers', sha256(raw).slice(7), 'fs'));
    assert.equal(await readFile(join(r.layerDirs[0] as string, 'bin/sh'), 'utf8'), 'shell');
  });

  test('remove untags, refuses images in use, deletes and gc frees unreferenced layers', async () => {
    const img = makeImage([await base(), await top()]);
    await store.load(Readable.from([await dockerArchive(img, ['app:1', 'app:2'])]));
    assert.deepEqual(await store.remove('app:1', { inUse: () => true }), ['Untagged: app:1']);
    await assert.rejects(store.remove('app:2', { inUse: (id) => id === img.configDigest }), {
      code: 'FailedPrecondition',
      message: /is used by a container/,
    });
    assert.equal((await store.list()).length, 1);
    const out = await store.remove('app:2', { inUse: never });
    assert.deepEqual(out, ['Untagged: app:2', `Deleted: ${img.configDigest}`]);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(root, 'images/layers')), []);
    assert.deepEqual(await readdir(join(root, 'images/blobs/sha256')), []);
    assert.equal(events.at(-1)?.[0], 'image.removed');
    await assert.rejects(store.resolve('app:2'), { code: 'NotFound' });
  });

  test('forced removal of an image in use keeps its layers for the container', async () => {
    const img = makeImage([await base()]);
    await store.load(Readable.from([await dockerArchive(img, ['keep:1'])]));
    const dirs = (await store.resolve('keep:1')).layerDirs;
    assert.deepEqual(await store.remove('keep:1', { force: true, inUse: () => true }), ['Untagged: keep:1']);
    await store.gc();
    assert.ok((await stat(dirs[0] as string)).isDirectory());
    const [dangling] = await store.list();
    assert.deepEqual(dangling?.refs, []);
    assert.deepEqual(await store.remove(img.configDigest, { inUse: never }), [
      `Deleted: ${img.configDigest}`,
    ]);
    await assert.rejects(stat(dirs[0] as string), { code: 'ENOENT' });
  });

  test('gc keeps what images reference and removes what they do not', async () => {
    const shared = await base();
    await store.load(Readable.from([await dockerArchive(makeImage([shared]), ['one:1'])]));
    const two = makeImage([shared, await top()]);
    await store.load(Readable.from([await dockerArchive(two, ['two:1'])]));
    assert.deepEqual(await store.gc(), { blobs: [], layers: [] });
    await store.remove('two:1', { inUse: never });
    assert.equal((await readdir(join(root, 'images/layers'))).length, 1, 'the shared layer stays for one:1');
    assert.equal(
      await readFile(join((await store.resolve('one:1')).layerDirs[0] as string, 'etc/motd'), 'utf8'),
      'hello',
    );
  });

  test('the index survives a restart', async () => {
    const img = makeImage([await base()]);
    await store.load(Readable.from([await dockerArchive(img, ['persist:1'])]));
    const again = new ImageStore({ root, logger: silentLogger() });
    assert.equal((await again.resolve('persist:1')).id, img.configDigest);
  });
});
