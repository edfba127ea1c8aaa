import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** Builds a tar in memory with tar-stream, exactly as listed (no normalisation: attacks stay attacks). */
export async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date('2024-01-02T03:04:05Z'),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
        ...(e.pax ? { pax: e.pax } : {}),
      };
      if (type === 'file')
        pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export const gzip = (b: Buffer): Buffer => gzipSync(b);

export interface TestImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  config: Buffer;
  configDigest: string;
  diffIds: string[];
}

export function makeImage(layers: Buffer[], cfg: Record<string, unknown> = { Cmd: ['/bin/sh'] }): TestImage {
  const diffIds = layers.map(sha256);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: cfg,
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  return { layers, config, configDigest: sha256(config), diffIds };
}

/** `docker save` layout: manifest.json, repositories, <id>/layer.tar, <hex>.json. */
export async function dockerArchive(img: TestImage, repoTags: string[]): Promise<Buffer> {
  const hex = img.configDigest.slice(7);
  const layerNames = img.layers.map((_, i) => `${sha256(`l${i}${hex}`).slice(7)}/layer.tar`);
  const entries: TarEntry[] = [];
  img.layers.forEach((l, i) => {
    const name = layerNames[i] as string;
    entries.push({ name: `${name.split('/')[0]}/`, type: 'directory' });
    entries.push({ name: `${name.split('/')[0]}/VERSION`, content: '1.0' });
    entries.push({ name, content: l });
  });
  entries.push({ name: `${hex}.json`, content: img.config });
  entries.push({
    name: 'manifest.json',
    content: JSON.stringify([{ Config: `${hex}.json`, RepoTags: repoTags, Layers: layerNames }]),
  });
  entries.push({ name: 'repositories', content: '{}' });
  return buildTar(entries);
}

/** OCI image layout with gzip layers and an org.opencontainers.image.ref.name annotation. */
export async function ociLayout(
  img: TestImage,
  refName: string,
  compress = gzip,
): Promise<{ tar: Buffer; manifestDigest: string }> {
  const blobs = new Map<string, Buffer>();
  const layerDescs = img.layers.map((l) => {
    const z = compress(l);
    const d = sha256(z);
    blobs.set(d, z);
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: z.length };
  });
  blobs.set(img.configDigest, img.config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: img.configDigest,
        size: img.config.length,
      },
      layers: layerDescs,
    }),
  );
  const manifestDigest = sha256(manifest);
  blobs.set(manifestDigest, manifest);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': refName },
      },
    ],
  };
  const entries: TarEntry[] = [
    { name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', content: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
  ];
  for (const [d, b] of blobs) entries.push({ name: `blobs/sha256/${d.slice(7)}`, content: b });
  return { tar: await buildTar(entries), manifestDigest };
}
