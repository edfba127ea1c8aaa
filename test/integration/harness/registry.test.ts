import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BuiltImage,
  buildBusyboxImageDetailed,
  MEDIA,
  pushImage,
  sha256,
} from '../../harness/images.js';
import { type RegistryHandle, registryRequest, startRegistry } from '../../harness/registry.js';
import { removeDir } from '../../harness/tmp.js';

describe('harness: docker-registry', () => {
  let oci: BuiltImage | undefined;
  let docker: BuiltImage | undefined;
  let plain: RegistryHandle | undefined;
  let secure: RegistryHandle | undefined;
  const password = randomBytes(9).toString('base64url');

  before(async () => {
    oci = await buildBusyboxImageDetailed({ format: 'oci', ref: 'berth-test/busybox:oci' });
    docker = await buildBusyboxImageDetailed({
      format: 'docker',
      ref: 'berth-test/busybox:docker',
      layers: 'two',
      extraFiles: { 'hello.txt': 'hi\n' },
    });
    [plain, secure] = await Promise.all([
      startRegistry(),
      startRegistry({ tls: true, basicAuth: { user: 'berth', password } }),
    ]);
  });

  after(async () => {
    await plain?.stop();
    await secure?.stop();
    for (const img of [oci, docker]) if (img) await removeDir(dirname(img.path));
  });

  it('takes an OCI image push and serves the manifest by tag with its digest', async () => {
    assert.ok(plain && oci);
    const pushed = await pushImage(oci.path, plain, 'berth/busybox', 'v1');
    assert.equal(pushed.digest, oci.manifestDigest);
    const res = await registryRequest(plain, 'GET', '/v2/berth/busybox/manifests/v1', {
      headers: { accept: MEDIA.ociManifest },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-content-digest'], oci.manifestDigest);
    assert.equal(sha256(res.body), oci.manifestDigest);
    const layer = oci.layers[0];
    assert.ok(layer);
    const blob = await registryRequest(plain, 'GET', `/v2/berth/busybox/blobs/${layer.digest}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(blob.body), layer.digest);
  });

  it('requires credentials over TLS and takes a docker-archive push with them', async () => {
    assert.ok(secure && docker);
    assert.match(secure.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const anon = await registryRequest(secure, 'GET', '/v2/', { auth: false });
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic realm="berth-test"/);
    const wrong = await registryRequest(
      { ...secure, basicAuth: { user: 'berth', password: 'nope' } },
      'GET',
      '/v2/',
    );
    assert.equal(wrong.status, 401);
    const ok = await registryRequest(secure, 'GET', '/v2/');
    assert.equal(ok.status, 200);

    const pushed = await pushImage(docker.path, secure, 'berth/busybox', 'docker');
    assert.equal(pushed.mediaType, MEDIA.dockerManifest);
    assert.equal(pushed.digest, docker.manifestDigest);
    const res = await registryRequest(secure, 'GET', '/v2/berth/busybox/manifests/docker', {
      headers: { accept: MEDIA.dockerManifest },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-content-digest'], docker.manifestDigest);
    const manifest = JSON.parse(res.body.toString()) as { layers: { digest: string }[] };
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      docker.layers.map((l) => l.digest),
    );
  });

  it('refuses a client that does not trust the test CA', async () => {
    assert.ok(secure);
    const { caCertPath: _ca, ...untrusting } = secure;
    await assert.rejects(
      registryRequest(untrusting, 'GET', '/v2/'),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });
});
