import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  buildBusyboxImage,
  buildBusyboxImageDetailed,
  hostArch,
  listLayer,
  MEDIA,
  readTarFiles,
  sha256,
} from '../../harness/images.js';
import { removeDir } from '../../harness/tmp.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}
interface ImageConfig {
  architecture: string;
  os: string;
  config: { Cmd?: string[]; Env?: string[]; WorkingDir?: string; Labels?: Record<string, string> };
  rootfs: { type: string; diff_ids: string[] };
  history: unknown[];
}

const hexOf = (d: string): string => d.replace(/^sha256:/, '');
const json = <T>(b: Buffer | undefined): T => {
  assert.ok(b !== undefined, 'file present');
  return JSON.parse(b.toString()) as T;
};

describe('harness: busybox image tarballs', () => {
  const dirs: string[] = [];
  const build = async (...args: Parameters<typeof buildBusyboxImageDetailed>) => {
    const img = await buildBusyboxImageDetailed(...args);
    dirs.push(dirname(img.path));
    return img;
  };
  after(async () => {
    for (const d of dirs) await removeDir(d);
  });

  it('writes an OCI layout whose index, manifest, config and layer digests all verify', async () => {
    const img = await build({ format: 'oci', ref: 'berth-test/busybox:1', config: { Cmd: ['echo', 'hi'] } });
    const files = await readTarFiles(img.path);
    assert.deepEqual(json(files.get('oci-layout')), { imageLayoutVersion: '1.0.0' });
    const index = json<{
      schemaVersion: number;
      manifests: (Descriptor & { annotations: Record<string, string> })[];
    }>(files.get('index.json'));
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const desc = index.manifests[0];
    assert.ok(desc);
    assert.equal(desc.mediaType, MEDIA.ociManifest);
    assert.equal(desc.annotations['org.opencontainers.image.ref.name'], '1');
    assert.equal(desc.annotations['io.containerd.image.name'], 'berth-test/busybox:1');
    assert.equal(desc.digest, img.manifestDigest);

    // Every blob is stored under its own digest.
    for (const [name, data] of files) {
      if (name.startsWith('blobs/sha256/'))
        assert.equal(sha256(data), `sha256:${name.slice('blobs/sha256/'.length)}`);
    }
    const manifestBlob = files.get(`blobs/sha256/${hexOf(desc.digest)}`);
    assert.ok(manifestBlob);
    assert.equal(manifestBlob.length, desc.size);
    const manifest = json<{ config: Descriptor; layers: Descriptor[] }>(manifestBlob);
    assert.equal(manifest.config.mediaType, MEDIA.ociConfig);
    const config = json<ImageConfig>(files.get(`blobs/sha256/${hexOf(manifest.config.digest)}`));
    assert.equal(config.architecture, hostArch());
    assert.match(config.architecture, /^(amd64|arm64|arm|[a-z0-9]+)$/);
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.config.Cmd, ['echo', 'hi']);
    assert.ok(config.config.Env?.some((e) => e.startsWith('PATH=')));
    assert.equal(config.rootfs.type, 'layers');
    assert.equal(manifest.layers.length, 1);
    assert.equal(config.history.length, 1);

    const layerDesc = manifest.layers[0];
    assert.ok(layerDesc);
    assert.equal(layerDesc.mediaType, MEDIA.ociLayerGzip);
    const gz = files.get(`blobs/sha256/${hexOf(layerDesc.digest)}`);
    assert.ok(gz);
    assert.equal(gz.length, layerDesc.size);
    assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b], 'layer is gzip');
    assert.equal(
      sha256(gunzipSync(gz)),
      config.rootfs.diff_ids[0],
      'diff_id is the digest of the uncompressed tar',
    );

    const entries = await listLayer(gz);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('bin/busybox')?.type, 'file');
    assert.equal(byName.get('bin/busybox')?.mode, 0o755);
    assert.deepEqual(
      { ...byName.get('bin/sh') },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox', mode: 0o777 },
    );
    assert.equal(byName.get('etc/passwd')?.type, 'file');
    assert.equal(byName.get('tmp/')?.mode, 0o1777);
    for (const d of ['proc/', 'sys/', 'dev/']) assert.equal(byName.get(d)?.type, 'directory', d);
  });

  it('writes a docker-archive with manifest.json, repositories and verifiable layers', async () => {
    const img = await build({
      format: 'docker',
      ref: 'berth-test/busybox:two',
      layers: 'two',
      extraFiles: { '/app/hello.txt': 'hello\n', 'app/run.sh': '#!/bin/sh\necho run\n' },
      config: { WorkingDir: '/app', Labels: { 'com.example': 'x' } },
    });
    const files = await readTarFiles(img.path);
    const list = json<{ Config: string; RepoTags: string[]; Layers: string[] }[]>(files.get('manifest.json'));
    assert.equal(list.length, 1);
    const entry = list[0];
    assert.ok(entry);
    assert.deepEqual(entry.RepoTags, ['berth-test/busybox:two']);
    const configBlob = files.get(entry.Config);
    assert.ok(configBlob);
    assert.equal(`sha256:${entry.Config.replace(/\.json$/, '')}`, sha256(configBlob));
    assert.equal(sha256(configBlob), img.configDigest);
    const config = json<ImageConfig>(configBlob);
    assert.equal(config.config.WorkingDir, '/app');
    assert.deepEqual(config.config.Labels, { 'com.example': 'x' });
    assert.deepEqual(config.config.Cmd, ['sh'], 'default Cmd kept when not overridden');
    assert.equal(entry.Layers.length, 2);
    assert.equal(config.rootfs.diff_ids.length, 2);
    assert.equal(config.history.length, 2);

    const layerEntries = [];
    for (const [i, path] of entry.Layers.entries()) {
      const blob = files.get(path);
      assert.ok(blob, path);
      assert.equal(sha256(gunzipSync(blob)), config.rootfs.diff_ids[i]);
      assert.equal(sha256(blob), img.layers[i]?.digest);
      layerEntries.push(await listLayer(blob));
    }
    const [base, extra] = layerEntries;
    assert.ok(base?.some((e) => e.name === 'bin/busybox'));
    assert.ok(!base?.some((e) => e.name.startsWith('app/')), 'extra files only in the second layer');
    assert.deepEqual(
      extra?.map((e) => [e.name, e.type, e.mode]),
      [
        ['app/', 'directory', 0o755],
        ['app/hello.txt', 'file', 0o644],
        ['app/run.sh', 'file', 0o755],
      ],
    );

    const top = entry.Layers[1]?.split('/')[0];
    assert.deepEqual(json(files.get('repositories')), { 'berth-test/busybox': { two: top } });
  });

  it('gives the same digests for the same inputs', async () => {
    const a = await build({ format: 'oci', ref: 'x:1', extraFiles: { 'a.txt': 'a' } });
    const b = await build({ format: 'oci', ref: 'x:1', extraFiles: { 'a.txt': 'a' } });
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.deepEqual(a.layers, b.layers);
    const path = await buildBusyboxImage({ format: 'docker', ref: 'x' });
    dirs.push(dirname(path));
    assert.match(path, /x-latest\.docker\.tar$/);
  });

  it('refuses an extra file path that escapes the image root', async () => {
    await assert.rejects(
      build({ format: 'oci', ref: 'x:1', extraFiles: { '../etc/passwd': 'x' } }),
      /extraFiles/,
    );
  });
});
