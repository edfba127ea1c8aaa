import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { type RegistryEndpoint, registryRequest } from './registry.js';
import { tempDir } from './tmp.js';

const execFileAsync = promisify(execFile);

/** busybox-static: one static binary, so the image needs no libc. */
const BUSYBOX = '/bin/busybox';
/** Fixed timestamps make the same inputs give the same digests (tests may compare them across builds). */
const EPOCH = new Date('2024-01-01T00:00:00Z');
const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The image config fields a test may set (Docker's capitalised names, as in the image config JSON). */
export interface ImageRunConfig {
  Cmd?: string[];
  Entrypoint?: string[];
  /** Replaces the default PATH-only Env. */
  Env?: string[];
  ExposedPorts?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  User?: string;
  /** Durations in nanoseconds, as in Docker's config. */
  Healthcheck?: {
    Test: string[];
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
  };
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface BuildImageOptions {
  format: 'oci' | 'docker';
  /** e.g. 'berth-test/busybox:1'; the tag defaults to latest. */
  ref: string;
  /** Default: Cmd ['sh'] and PATH in Env. */
  config?: ImageRunConfig;
  /** Path in the image → content. Mode 0755 when the content starts with '#!', else 0644; parent dirs are created. */
  extraFiles?: Record<string, string>;
  /** 'two' puts extraFiles in a second layer (default 'one': everything in one layer). */
  layers?: 'one' | 'two';
  /** Where to write the tarball; default a new temp dir (the caller removes it with removeDir(dirname(path))). */
  outDir?: string;
}

export interface BuiltLayer {
  /** sha256 of the gzip blob. */
  digest: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
  size: number;
}

export interface BuiltImage {
  path: string;
  format: 'oci' | 'docker';
  ref: string;
  configDigest: string;
  /** The manifest's digest (OCI: as in index.json; docker: of the v2 schema2 manifest pushImage would send). */
  manifestDigest: string;
  layers: BuiltLayer[];
}

export const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hex = (digest: string): string => digest.slice('sha256:'.length);

/** Builds a busybox image tarball and returns its path. */
export async function buildBusyboxImage(opts: BuildImageOptions): Promise<string> {
  return (await buildBusyboxImageDetailed(opts)).path;
}

/** Same as buildBusyboxImage, also returning the digests a test can compare with what an importer or registry reports. */
export async function buildBusyboxImageDetailed(opts: BuildImageOptions): Promise<BuiltImage> {
  const { name, tag } = splitRef(opts.ref);
  const extra = Object.entries(opts.extraFiles ?? {});
  const twoLayers = opts.layers === 'two';
  const base = await baseEntries();
  const tars =
    twoLayers && extra.length > 0
      ? [await tarOf(base), await tarOf(fileEntries(extra))]
      : [await tarOf([...base, ...fileEntries(extra)])];
  const layers = tars.map((tar) => {
    const gz = gzipSync(tar);
    return { tar, gz, digest: sha256(gz), diffId: sha256(tar), size: gz.length };
  });

  const created = EPOCH.toISOString();
  const config = {
    created,
    architecture: hostArch(),
    os: 'linux',
    config: { Env: DEFAULT_ENV, Cmd: ['sh'], ...opts.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_l, i) => ({
      created,
      created_by: i === 0 ? 'berth test harness: busybox-static base' : 'berth test harness: extra files',
    })),
  };
  const configJson = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configJson);
  const dir = opts.outDir ?? (await tempDir('image'));
  const safeName = `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}`;
  const path = join(dir, `${safeName}.${opts.format}.tar`);

  const manifest = (mediaType: string, cfgType: string, layerType: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: cfgType, digest: configDigest, size: configJson.length },
        layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
      }),
    );

  const files: TarFile[] = [];
  let manifestDigest: string;
  if (opts.format === 'oci') {
    const m = manifest(MEDIA.ociManifest, MEDIA.ociConfig, MEDIA.ociLayerGzip);
    manifestDigest = sha256(m);
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        {
          mediaType: MEDIA.ociManifest,
          digest: manifestDigest,
          size: m.length,
          annotations: {
            'io.containerd.image.name': fullRef(name, tag),
            'org.opencontainers.image.ref.name': tag,
          },
        },
      ],
    };
    files.push(
      { name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
      { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
      { name: `blobs/sha256/${hex(configDigest)}`, data: configJson },
      { name: `blobs/sha256/${hex(manifestDigest)}`, data: m },
      ...layers.map((l) => ({ name: `blobs/sha256/${hex(l.digest)}`, data: l.gz })),
    );
  } else {
    manifestDigest = sha256(manifest(MEDIA.dockerManifest, MEDIA.dockerConfig, MEDIA.dockerLayerGzip));
    // `docker save` layout: one dir per layer named by its v1 id (here the chain of diff ids), gzip accepted by `docker load`.
    const ids = chainIds(layers.map((l) => l.diffId));
    const top = ids[ids.length - 1] ?? '';
    files.push({ name: `${hex(configDigest)}.json`, data: configJson });
    layers.forEach((l, i) => {
      const id = ids[i] ?? '';
      const v1 = { id, ...(i > 0 ? { parent: ids[i - 1] } : {}), created, os: 'linux' };
      files.push(
        { name: `${id}/VERSION`, data: Buffer.from('1.0') },
        { name: `${id}/json`, data: Buffer.from(JSON.stringify(v1)) },
        { name: `${id}/layer.tar`, data: l.gz },
      );
    });
    files.push(
      {
        name: 'manifest.json',
        data: Buffer.from(
          JSON.stringify([
            {
              Config: `${hex(configDigest)}.json`,
              RepoTags: [fullRef(name, tag)],
              Layers: ids.map((id) => `${id}/layer.tar`),
            },
          ]),
        ),
      },
      { name: 'repositories', data: Buffer.from(JSON.stringify({ [name]: { [tag]: top } })) },
    );
  }
  await writeFile(path, await tarOf(files.map((f) => ({ ...f, type: 'file' as const, mode: 0o644 }))));
  return {
    path,
    format: opts.format,
    ref: fullRef(name, tag),
    configDigest,
    manifestDigest,
    layers: layers.map(({ digest, diffId, size }) => ({ digest, diffId, size })),
  };
}

/** Splits 'repo/name:tag' (a registry host with a port is not mistaken for a tag). */
export function splitRef(ref: string): { name: string; tag: string } {
  const at = ref.lastIndexOf(':');
  if (at > ref.lastIndexOf('/')) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  return { name: ref, tag: 'latest' };
}

const fullRef = (name: string, tag: string): string => `${name}:${tag}`;

export function hostArch(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'arm';
    default:
      return process.arch;
  }
}

function chainIds(diffIds: string[]): string[] {
  const ids: string[] = [];
  for (const d of diffIds) {
    const prev = ids[ids.length - 1];
    ids.push(hex(sha256(prev === undefined ? d : `sha256:${prev} ${d}`)));
  }
  return ids;
}

type TarEntry =
  | { type: 'directory'; name: string; mode: number }
  | { type: 'file'; name: string; mode: number; data: Buffer }
  | { type: 'symlink'; name: string; linkname: string };
type TarFile = { name: string; data: Buffer };

async function baseEntries(): Promise<TarEntry[]> {
  const { stdout } = await execFileAsync(BUSYBOX, ['--list'], { maxBuffer: 1 << 20 });
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'));
  const dir = (name: string, mode = 0o755): TarEntry => ({ type: 'directory', name, mode });
  const file = (name: string, data: string, mode = 0o644): TarEntry => ({
    type: 'file',
    name,
    mode,
    data: Buffer.from(data),
  });
  return [
    dir('bin/'),
    { type: 'file', name: 'bin/busybox', mode: 0o755, data: await readFile(BUSYBOX) },
    ...applets.map((a): TarEntry => ({ type: 'symlink', name: `bin/${a}`, linkname: 'busybox' })),
    dir('dev/'),
    dir('etc/'),
    file(
      'etc/passwd',
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    ),
    file('etc/group', 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n'),
    dir('home/'),
    dir('proc/'),
    dir('root/', 0o700),
    dir('sys/'),
    dir('tmp/', 0o1777),
    dir('var/'),
  ];
}

function fileEntries(files: [string, string][]): TarEntry[] {
  const out: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const [rawPath, content] of files) {
    const path = rawPath.replace(/^\/+/, '');
    if (path === '' || path.split('/').includes('..'))
      throw new Error(`extraFiles: "${rawPath}" is not a file path`);
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        out.push({ type: 'directory', name: d, mode: 0o755 });
      }
    }
    out.push({
      type: 'file',
      name: path,
      mode: content.startsWith('#!') ? 0o755 : 0o644,
      data: Buffer.from(content),
    });
  }
  return out;
}

async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    if (Buffer.isBuffer(c)) chunks.push(c);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const common = { mtime: EPOCH, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  for (const e of entries) {
    if (e.type === 'file') {
      await new Promise<void>((resolve, reject) => {
        p.entry(
          { ...common, name: e.name, mode: e.mode, type: 'file', size: e.data.length },
          e.data,
          (err) => (err ? reject(err) : resolve()),
        );
      });
    } else if (e.type === 'directory') {
      p.entry({ ...common, name: e.name, mode: e.mode, type: 'directory' });
    } else {
      p.entry({ ...common, name: e.name, mode: 0o777, type: 'symlink', linkname: e.linkname });
    }
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Every regular file of a tarball by name (test-sized archives only: all in memory). */
export async function readTarFiles(source: string | Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      if (Buffer.isBuffer(c)) chunks.push(c);
    });
    stream.on('end', () => {
      if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
      next();
    });
    stream.resume();
  });
  if (typeof source === 'string') {
    await pipeline(createReadStream(source), ex);
  } else {
    const done = new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    ex.end(source);
    await done;
  }
  return files;
}

/** Names and types of the entries of a (possibly gzipped) layer tar, for structure assertions. */
export async function listLayer(
  blob: Buffer,
): Promise<{ name: string; type: string; linkname?: string; mode?: number }[]> {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const out: { name: string; type: string; linkname?: string; mode?: number }[] = [];
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    out.push({
      name: header.name,
      type: header.type ?? 'file',
      ...(header.linkname ? { linkname: header.linkname } : {}),
      ...(header.mode !== undefined ? { mode: header.mode } : {}),
    });
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return out;
}

export interface PushResult {
  /** Docker-Content-Digest the registry answered for the manifest. */
  digest: string;
  mediaType: string;
}

/**
 * Pushes an image tarball (OCI layout or docker-archive) to a registry with the
 * v2 HTTP API: blobs by monolithic upload (POST then PUT with ?digest=), then
 * the manifest by tag. A docker-archive is pushed as a Docker schema2 manifest,
 * an OCI layout as its OCI manifest unchanged.
 */
export async function pushImage(
  tarPath: string,
  registry: RegistryEndpoint,
  repo: string,
  tag: string,
): Promise<PushResult> {
  const files = await readTarFiles(tarPath);
  const { manifest, mediaType, blobs } = files.has('oci-layout') ? fromOci(files) : fromDockerArchive(files);
  for (const blob of blobs) await pushBlob(registry, repo, blob);
  const res = await registryRequest(registry, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    body: manifest,
    headers: { 'content-type': mediaType },
  });
  if (res.status !== 201) {
    throw new Error(
      `push ${repo}:${tag}: manifest PUT answered ${res.status}: ${res.body.toString().slice(0, 500)}`,
    );
  }
  const digest = res.headers['docker-content-digest'];
  return { digest: typeof digest === 'string' ? digest : sha256(manifest), mediaType };
}

interface PushPlan {
  manifest: Buffer;
  mediaType: string;
  blobs: Buffer[];
}

function need(files: Map<string, Buffer>, name: string): Buffer {
  const f = files.get(name);
  if (f === undefined) throw new Error(`image tarball: ${name} is missing`);
  return f;
}

function fromOci(files: Map<string, Buffer>): PushPlan {
  const index = JSON.parse(need(files, 'index.json').toString()) as { manifests?: { digest: string }[] };
  const desc = index.manifests?.[0];
  if (desc === undefined) throw new Error('image tarball: index.json lists no manifest');
  const manifest = need(files, `blobs/sha256/${hex(desc.digest)}`);
  const m = JSON.parse(manifest.toString()) as {
    mediaType?: string;
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = [m.config, ...m.layers].map((d) => need(files, `blobs/sha256/${hex(d.digest)}`));
  return { manifest, mediaType: m.mediaType ?? MEDIA.ociManifest, blobs };
}

function fromDockerArchive(files: Map<string, Buffer>): PushPlan {
  const list = JSON.parse(need(files, 'manifest.json').toString()) as { Config: string; Layers: string[] }[];
  const entry = list[0];
  if (entry === undefined) throw new Error('image tarball: manifest.json is empty');
  const config = need(files, entry.Config);
  const layers = entry.Layers.map((l) => need(files, l));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA.dockerLayerGzip, digest: sha256(l), size: l.length })),
    }),
  );
  return { manifest, mediaType: MEDIA.dockerManifest, blobs: [config, ...layers] };
}

async function pushBlob(registry: RegistryEndpoint, repo: string, blob: Buffer): Promise<void> {
  const digest = sha256(blob);
  const head = await registryRequest(registry, 'HEAD', `/v2/${repo}/blobs/${digest}`);
  if (head.status === 200) return;
  const start = await registryRequest(registry, 'POST', `/v2/${repo}/blobs/uploads/`);
  const location = start.headers.location;
  if (start.status !== 202 || typeof location !== 'string') {
    throw new Error(
      `push blob ${digest}: upload POST answered ${start.status}: ${start.body.toString().slice(0, 300)}`,
    );
  }
  const url = new URL(location, registry.url);
  url.searchParams.set('digest', digest);
  const put = await registryRequest(registry, 'PUT', `${url.pathname}${url.search}`, {
    body: blob,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) {
    throw new Error(
      `push blob ${digest}: upload PUT answered ${put.status}: ${put.body.toString().slice(0, 300)}`,
    );
  }
}
