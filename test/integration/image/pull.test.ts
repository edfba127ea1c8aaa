import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore, type ImageStoreOptions } from '../../../runtime/image/store.js';
import type { PullProgress } from '../../../runtime/runtime.js';
import { type BuiltImage, buildBusyboxImageDetailed, pushImage } from '../../harness/images.js';
import { type RegistryHandle, registryRequest, startRegistry } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER_ARCH = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';

let work: string;
let image: BuiltImage;
const registries: RegistryHandle[] = [];
const stores: string[] = [];

async function newStore(opts: Partial<ImageStoreOptions> = {}): Promise<ImageStore> {
  const root = join(work, `state-${stores.length}`);
  stores.push(root);
  return new ImageStore({ root, logger: silentLogger(), ...opts });
}

async function registry(opts: Parameters<typeof startRegistry>[0] = {}): Promise<RegistryHandle> {
  const r = await startRegistry(opts);
  registries.push(r);
  return r;
}

before(async () => {
  work = await tempDir('image-pull');
  image = await buildBusyboxImageDetailed({
    format: 'oci',
    ref: 'berth-test/busybox:1',
    extraFiles: { '/etc/berth-image': 'pulled\n' },
    layers: 'two',
  });
});

after(async () => {
  for (const r of registries) await r.stop().catch(() => undefined);
  if (image) await removeDir(dirname(image.path));
  if (work) await removeDir(work);
});

describe('pull from a real docker-registry', () => {
  test('plain http only for opted-in registries; progress; layers reused on the second pull', async () => {
    const reg = await registry();
    await pushImage(image.path, reg, 'berth-test/busybox', '1');
    const ref = `${reg.host}/berth-test/busybox:1`;

    const strict = await newStore();
    await assert.rejects(strict.pull(ref, {}), { code: 'Unavailable' });

    const store = await newStore({ insecureRegistries: [reg.host] });
    const progress: PullProgress[] = [];
    const sum = await store.pull(ref, {}, (p) => progress.push(p));
    assert.equal(sum.id, image.configDigest);
    assert.deepEqual(sum.refs, [ref]);
    for (const l of image.layers) {
      const short = l.digest.slice(7, 19);
      const mine = progress.filter((p) => p.layer === short).map((p) => p.status);
      assert.equal(mine[0], 'waiting');
      assert.equal(mine.at(-1), 'done');
      assert.ok(mine.includes('downloading'));
    }
    const r = await store.resolve(ref);
    assert.equal(r.name, `${reg.host}/berth-test/busybox`);
    assert.equal(r.tag, '1');
    assert.equal(r.layerDirs.length, 2);
    assert.equal(await readFile(join(r.layerDirs[1] as string, 'etc/berth-image'), 'utf8'), 'pulled\n');
    assert.ok((await stat(join(r.layerDirs[0] as string, 'bin/busybox'))).isFile());

    const again: PullProgress[] = [];
    await store.pull(ref, {}, (p) => again.push(p));
    assert.deepEqual(
      again.filter((p) => p.status !== 'waiting').map((p) => p.status),
      ['exists', 'exists'],
    );
    // By the digest the registry served.
    const byDigest = await store.resolve(`${reg.host}/berth-test/busybox@${image.manifestDigest}`);
    assert.equal(byDigest.id, image.configDigest);
    const digestRef = `${reg.host}/berth-test/busybox@${image.manifestDigest}`;
    assert.deepEqual(await store.remove(digestRef, { inUse: () => false }), [`Untagged: ${digestRef}`]);
    assert.equal((await store.resolve(ref)).id, image.configDigest, 'the tag stays');
    await assert.rejects(store.resolve(digestRef), { code: 'NotFound' });

    const loopback = await newStore({ allowInsecureLoopback: true });
    assert.equal((await loopback.pull(ref, {})).id, image.configDigest);
  });

  test('TLS with a custom CA file', async () => {
    const reg = await registry({ tls: true });
    await pushImage(image.path, reg, 'berth-test/busybox', '1');
    const ref = `${reg.host}/berth-test/busybox:1`;
    const store = await newStore();
    await assert.rejects(store.pull(ref, {}), { code: 'Unavailable', message: /certificate/ });
    const sum = await store.pull(ref, { caFile: reg.caCertPath });
    assert.equal(sum.id, image.configDigest);
    const cfgStore = await newStore({ registries: { [reg.host]: { caFile: reg.caCertPath as string } } });
    assert.equal((await cfgStore.pull(ref, {})).id, image.configDigest);
  });

  test('basic auth', async () => {
    const basicAuth = { user: 'berth', password: 's3cret-pw' };
    const reg = await registry({ tls: true, basicAuth });
    await pushImage(image.path, reg, 'berth-test/busybox', '1');
    const ref = `${reg.host}/berth-test/busybox:1`;
    const store = await newStore({ registries: { [reg.host]: { caFile: reg.caCertPath as string } } });
    await assert.rejects(store.pull(ref, {}), {
      code: 'FailedPrecondition',
      message: /authentication required/,
    });
    await assert.rejects(store.pull(ref, { username: 'berth', password: 'wrong' }), {
      code: 'FailedPrecondition',
      message: /401/,
    });
    const sum = await store.pull(ref, { username: basicAuth.user, password: basicAuth.password });
    assert.equal(sum.id, image.configDigest);
  });

  test('a multi-arch index: the host platform is chosen, --platform picks another', async () => {
    const reg = await registry();
    const descs = [];
    const built: Record<string, BuiltImage> = {};
    for (const arch of [OTHER_ARCH, HOST_ARCH]) {
      const img = await buildBusyboxImageDetailed({
        format: 'oci',
        ref: `berth-test/multi:${arch}`,
        extraFiles: { '/etc/arch': arch },
        outDir: work,
      });
      built[arch] = img;
      const pushed = await pushImage(img.path, reg, 'berth-test/multi', arch);
      const m = await registryRequest(reg, 'GET', `/v2/berth-test/multi/manifests/${pushed.digest}`, {
        headers: { accept: pushed.mediaType },
      });
      descs.push({
        mediaType: pushed.mediaType,
        digest: pushed.digest,
        size: m.body.length,
        platform: { os: 'linux', architecture: arch, ...(arch === 'arm64' ? { variant: 'v8' } : {}) },
      });
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: descs,
      }),
    );
    const put = await registryRequest(reg, 'PUT', '/v2/berth-test/multi/manifests/latest', {
      body: index,
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(put.status, 201, put.body.toString());

    const store = await newStore({ insecureRegistries: [reg.host] });
    const ref = `${reg.host}/berth-test/multi`;
    const sum = await store.pull(ref, {});
    assert.equal(sum.id, built[HOST_ARCH]?.configDigest);
    const r = await store.resolve(ref);
    assert.equal(await readFile(join(r.layerDirs[0] as string, 'etc/arch'), 'utf8'), HOST_ARCH);

    const other = await store.pull(`${ref}:latest`, { platform: `linux/${OTHER_ARCH}` });
    assert.equal(other.id, built[OTHER_ARCH]?.configDigest);
    await assert.rejects(store.pull(ref, { platform: 'linux/s390x' }), {
      code: 'NotFound',
      message: /no manifest for platform linux\/s390x/,
    });
  });

  test('a blob the registry serves with the wrong content is rejected and nothing is kept', async () => {
    const reg = await registry();
    await pushImage(image.path, reg, 'berth-test/busybox', '1');
    const top = image.layers[1]?.digest as string;
    const data = join(reg.dataDir, 'docker/registry/v2/blobs/sha256', top.slice(7, 9), top.slice(7), 'data');
    await writeFile(data, gzipSync(Buffer.alloc(1024)));
    const root = join(work, 'tampered');
    const store = new ImageStore({ root, logger: silentLogger(), insecureRegistries: [reg.host] });
    await assert.rejects(store.pull(`${reg.host}/berth-test/busybox:1`, {}), {
      code: 'InvalidArgument',
      message: new RegExp(
        `layer ${top}: content digest sha256:[a-f0-9]{64} does not match the expected ${top}`,
      ),
    });
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(root, 'images/layers')), []);
    assert.deepEqual(await readdir(join(root, 'images/blobs/sha256')), []);
    assert.deepEqual(await readdir(join(root, 'images/tmp')), []);
  });

  test('unknown repositories and tags are NotFound', async () => {
    const reg = await registry();
    const store = await newStore({ insecureRegistries: [reg.host] });
    await assert.rejects(store.pull(`${reg.host}/nope/nothing:1`, {}), { code: 'NotFound' });
  });
});

describe('load images built by the harness', () => {
  for (const format of ['oci', 'docker'] as const) {
    test(`${format} tarball`, async () => {
      const img = await buildBusyboxImageDetailed({
        format,
        ref: `berth-test/load-${format}:2`,
        extraFiles: { '/hello.sh': '#!/bin/sh\necho hi\n' },
        layers: 'two',
        outDir: work,
      });
      const store = await newStore();
      const [sum] = await store.load(createReadStream(img.path));
      assert.equal(sum?.id, img.configDigest);
      assert.deepEqual(sum?.refs, [`berth-test/load-${format}:2`]);
      const r = await store.resolve(`berth-test/load-${format}:2`);
      assert.deepEqual(r.config.Cmd, ['sh']);
      const st = await stat(join(r.layerDirs[1] as string, 'hello.sh'));
      assert.equal(st.mode & 0o777, 0o755);
    });
  }
});
