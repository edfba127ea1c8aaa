/**
 * Issue 12 item 9 against Debian's docker-registry: a manifest whose layer
 * size lies, and a gzip bomb layer, are refused on pull and leave nothing in
 * the store.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { MEDIA, sha256 } from '../../harness/images.js';
import { type RegistryHandle, registryRequest, startRegistry } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, gzip, makeImage } from '../../unit/image/_tar.js';

let registry: RegistryHandle | undefined;
let dir: string;

async function pushBlob(repo: string, blob: Buffer): Promise<void> {
  const r = registry as RegistryHandle;
  const start = await registryRequest(r, 'POST', `/v2/${repo}/blobs/uploads/`);
  assert.equal(start.status, 202, start.body.toString());
  const url = new URL(start.headers.location as string, r.url);
  url.searchParams.set('digest', sha256(blob));
  const put = await registryRequest(r, 'PUT', `${url.pathname}${url.search}`, {
    body: blob,
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201, put.body.toString());
}

/** Pushes a one-layer image whose manifest says the (gzipped) layer is `size` bytes. */
async function pushImage(repo: string, layerTar: Buffer, size?: number): Promise<{ blob: string }> {
  const img = makeImage([layerTar]);
  const blob = gzip(layerTar);
  await pushBlob(repo, img.config);
  await pushBlob(repo, blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: img.configDigest, size: img.config.length },
      layers: [{ mediaType: MEDIA.dockerLayerGzip, digest: sha256(blob), size: size ?? blob.length }],
    }),
  );
  const res = await registryRequest(registry as RegistryHandle, 'PUT', `/v2/${repo}/manifests/1`, {
    body: manifest,
    headers: { 'content-type': MEDIA.dockerManifest },
  });
  assert.equal(res.status, 201, res.body.toString());
  return { blob: sha256(blob) };
}

function store(name: string, o: { maxLayerBytes?: number } = {}): ImageStore {
  return new ImageStore({
    root: join(dir, name),
    logger: silentLogger(),
    insecureRegistries: [(registry as RegistryHandle).host],
    ...o,
  });
}

async function leftovers(name: string): Promise<{ layers: string[]; tmp: string[] }> {
  const images = join(dir, name, 'images');
  return {
    layers: await readdir(join(images, 'layers')).catch(() => []),
    tmp: await readdir(join(images, 'tmp')).catch(() => []),
  };
}

describe('pull limits against a real registry', () => {
  before(async () => {
    dir = await tempDir('image-pull-limits');
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    if (dir) await removeDir(dir);
  });

  test('a manifest whose layer size lies: reading stops at the size, the error names the layer', async () => {
    const layer = await buildTar([{ name: 'data', content: Buffer.alloc(200_000, 7) }]);
    const { blob } = await pushImage('berth-test/lies', layer, 100);
    const s = store('lies');
    await assert.rejects(
      s.pull(`${registry?.host}/berth-test/lies:1`, {}),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'InvalidArgument');
        assert.match(err.message, new RegExp(`layer ${blob}: more than the 100 bytes its descriptor says`));
        return true;
      },
    );
    assert.deepEqual(await leftovers('lies'), { layers: [], tmp: [] });
    assert.deepEqual(await s.list(), []);
  });

  test('a gzip bomb layer is refused past imageMaxLayerBytes and leaves nothing', async () => {
    const layer = await buildTar([{ name: 'zeros', content: Buffer.alloc(64 << 20) }]);
    await pushImage('berth-test/bomb', layer);
    const s = store('bomb', { maxLayerBytes: 8 << 20 });
    await assert.rejects(
      s.pull(`${registry?.host}/berth-test/bomb:1`, {}),
      /layer sha256:[a-f0-9]{64}: uncompressed size exceeds the limit of 8388608 bytes \(imageMaxLayerBytes\)/,
    );
    assert.deepEqual(await leftovers('bomb'), { layers: [], tmp: [] });
    assert.deepEqual(await s.list(), []);
  });
});
