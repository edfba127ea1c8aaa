import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Entry } from './entries.js';

/** OCI media types (image-spec v1.1). */
export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface Layer extends Descriptor {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
}

/** Hashes what passes through. */
class Hasher extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    done();
  }
}

/**
 * Writes a gzip layer of `entries` (already sorted) into the layout's blobs.
 * Deterministic: every mtime is `mtime`, owners are 0:0 with no names, modes
 * are the entries' own, the gzip header carries no time or name.
 */
export async function writeLayer(layout: string, entries: Entry[], mtime: Date): Promise<Layer> {
  const pack = tar.pack();
  const raw = new Hasher();
  const gz = new Hasher();
  const tmp = join(layout, 'blobs', 'sha256', `.layer-${process.pid}.tmp`);
  const writing = pipeline(pack, raw, createGzip({ level: 9 }), gz, createWriteStream(tmp));
  const common = { mtime, uid: 0, gid: 0, uname: '', gname: '' };
  for (const e of entries) {
    if (e.type === 'dir') {
      pack.entry({ ...common, name: `${e.path}/`, type: 'directory', mode: e.mode });
    } else if (e.type === 'symlink') {
      pack.entry({ ...common, name: e.path, type: 'symlink', linkname: e.target, mode: 0o777 });
    } else {
      const data = e.type === 'data' ? e.data : await readFile(e.source);
      await new Promise<void>((resolve, reject) =>
        pack.entry({ ...common, name: e.path, type: 'file', mode: e.mode, size: data.length }, data, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  }
  pack.finalize();
  await writing;
  const digest = `sha256:${gz.hash.digest('hex')}`;
  await rename(tmp, blobPath(layout, digest));
  return { mediaType: MEDIA.layer, digest, size: gz.size, diffId: `sha256:${raw.hash.digest('hex')}` };
}

export function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Writes a JSON blob (keys in the order given, no whitespace) and returns its descriptor. */
export async function writeJsonBlob(layout: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const data = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  await writeFile(blobPath(layout, digest), data);
  return { mediaType, digest, size: data.length };
}

/** An empty layout directory: oci-layout and blobs/sha256/. */
export async function freshLayout(layout: string): Promise<void> {
  await rm(layout, { recursive: true, force: true });
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/**
 * The layout as an `oci-archive` tar (uncompressed: its layers are gzip
 * already), with the same fixed mtime and owners, entries sorted.
 */
export async function tarLayout(layout: string, files: string[], out: string, mtime: Date): Promise<void> {
  const pack = tar.pack();
  const tmp = `${out}.tmp`;
  const writing = pipeline(pack, new PassThrough(), createWriteStream(tmp));
  const common = { mtime, uid: 0, gid: 0, uname: '', gname: '' };
  const dirs = ['blobs/', 'blobs/sha256/'];
  const names = [...dirs, ...files].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    if (name.endsWith('/')) {
      pack.entry({ ...common, name, type: 'directory', mode: 0o755 });
      continue;
    }
    const data = await readFile(join(layout, name));
    await new Promise<void>((resolve, reject) =>
      pack.entry({ ...common, name, type: 'file', mode: 0o644, size: data.length }, data, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await writing;
  await rename(tmp, out);
}
