import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, beforeEach, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore, type ImageStoreOptions } from '../../../runtime/image/store.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, dockerArchive, gzip, makeImage, ociLayout, sha256 } from './_tar.js';

// Issue 12 item 9: layer bytes, uncompressed sizes and entries are bounded; free space is checked first.

let root: string;

function store(o: Partial<ImageStoreOptions> = {}): ImageStore {
  return new ImageStore({
    root,
    logger: silentLogger(),
    platform: { os: 'linux', architecture: 'amd64' },
    ...o,
  });
}

/** What the store holds besides the (empty) index: unpacked layers and temp leftovers. */
async function leftovers(): Promise<{ layers: string[]; tmp: string[] }> {
  const images = join(root, 'images');
  return {
    layers: await readdir(join(images, 'layers')).catch(() => []),
    tmp: await readdir(join(images, 'tmp')).catch(() => []),
  };
}

/** A layer tar holding one file of `mib` MiB of zeros: gzip makes it ~1000× smaller. */
async function bomb(mib: number): Promise<Buffer> {
  return buildTar([{ name: 'zeros', content: Buffer.alloc(mib << 20) }]);
}

beforeEach(async () => {
  if (root) await removeDir(root);
  root = await tempDir('image-limits');
});
after(async () => {
  await removeDir(root);
});

describe('image limits', () => {
  test('a gzip bomb layer is refused past maxLayerBytes and leaves no partial layer', async () => {
    const layer = await bomb(64);
    const img = makeImage([layer]);
    const archive = await dockerArchive(img, ['bomb:1']);
    // The whole load is far smaller than what the layer inflates to.
    assert.ok(gzip(layer).length < 1 << 20);
    const s = store({ maxLayerBytes: 8 << 20 });
    await assert.rejects(s.load(Readable.from([archive])), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'InvalidArgument');
      assert.match(
        err.message,
        /uncompressed size exceeds the limit of 8388608 bytes \(imageMaxLayerBytes\)/,
      );
      return true;
    });
    assert.deepEqual(await leftovers(), { layers: [], tmp: [] });
    assert.deepEqual(await s.list(), []);
  });

  test('a gzip bomb through import is refused the same way', async () => {
    const s = store({ maxLayerBytes: 4 << 20 });
    await assert.rejects(
      s.importRootfs(Readable.from([gzip(await bomb(16))]), 'bomb:2'),
      /rootfs: uncompressed size exceeds the limit of 4194304 bytes \(imageMaxLayerBytes\)/,
    );
    assert.deepEqual(await leftovers(), { layers: [], tmp: [] });
  });

  test('a layer with more entries than maxLayerEntries is refused', async () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: '' }));
    const img = makeImage([await buildTar(entries)]);
    const s = store({ maxLayerEntries: 20 });
    await assert.rejects(
      s.load(Readable.from([await dockerArchive(img, ['many:1'])])),
      /has more than 20 entries \(imageMaxLayerEntries\)/,
    );
    assert.deepEqual(await leftovers(), { layers: [], tmp: [] });
  });

  test('a layer blob longer than its descriptor says is refused naming the layer digest', async () => {
    const layer = await buildTar([{ name: 'a', content: 'x'.repeat(100_000) }]);
    const img = makeImage([layer]);
    const { tar } = await ociLayout(img, 'example.com/lie:1');
    // Rewrite the manifest's layer size to a lie (and the manifest digest in index.json with it).
    const lied = await rewriteOciLayerSize(tar, 100);
    const s = store();
    const blob = sha256(gzip(layer));
    await assert.rejects(s.load(Readable.from([lied])), (err: Error) => {
      assert.match(err.message, new RegExp(`layer ${blob}: more than the 100 bytes its descriptor says`));
      return true;
    });
    assert.deepEqual(await leftovers(), { layers: [], tmp: [] });
  });

  test('a layer is refused before unpacking when the disk would keep less than minFreeBytes', async () => {
    const img = makeImage([await buildTar([{ name: 'a', content: 'a' }])]);
    const s = store({ minFreeBytes: 2 ** 52 });
    await assert.rejects(
      s.load(Readable.from([await dockerArchive(img, ['full:1'])])),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'FailedPrecondition');
        assert.match(err.message, /not enough free space .* \(imageMinFreeBytes\)/);
        return true;
      },
    );
    assert.deepEqual(await leftovers(), { layers: [], tmp: [] });
  });

  test('limits are validated', () => {
    assert.throws(() => store({ maxLayerBytes: -1 }), /maxLayerBytes: must be a positive integer/);
    assert.throws(() => store({ maxLayerEntries: 1.5 }), /maxLayerEntries: must be a positive integer/);
  });
});

/** The OCI layout `tar` with every layer descriptor's size set to `size` (manifest digest updated). */
async function rewriteOciLayerSize(tar: Buffer, size: number): Promise<Buffer> {
  const { readTarFiles } = await import('../../harness/images.js');
  const files = await readTarFiles(tar);
  const index = JSON.parse(String(files.get('index.json'))) as {
    manifests: Array<{ digest: string; size: number }>;
  };
  const desc = index.manifests[0] as { digest: string; size: number };
  const manifest = JSON.parse(String(files.get(`blobs/sha256/${desc.digest.slice(7)}`))) as {
    layers: Array<{ size: number }>;
  };
  for (const l of manifest.layers) l.size = size;
  const bytes = Buffer.from(JSON.stringify(manifest));
  files.delete(`blobs/sha256/${desc.digest.slice(7)}`);
  desc.digest = sha256(bytes);
  desc.size = bytes.length;
  files.set(`blobs/sha256/${desc.digest.slice(7)}`, bytes);
  files.set('index.json', Buffer.from(JSON.stringify(index)));
  return buildTar([...files].map(([name, content]) => ({ name, content })));
}
