import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InvalidArgumentError } from '../base/errors.js';
import type { ImageCandidate, LayerSource } from './candidate.js';
import { decompress } from './decompress.js';
import { sha256Of } from './digest.js';
import { isErrno } from './fsutil.js';
import { ByteLimit } from './limits.js';
import { pickPlatform } from './platform.js';
import { normalizeReference, parseReference } from './reference.js';
import { entryComponents, UnsafePathError } from './safe-path.js';
import { type Descriptor, INDEX_TYPES, type Platform } from './types.js';

type Body = AsyncIterable<Uint8Array> & { resume(): unknown };

function bad(reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`archive: ${reason}`, { field: 'archive' });
}

/**
 * Reads a `docker save` archive or an OCI image layout tarball (optionally
 * gzipped), detected by content. The outer tar is staged under `staging`
 * first because its members come in no useful order (manifest.json is often
 * last); layers are then streamed from the staged files.
 */
export async function readArchive(
  source: Readable,
  staging: string,
  platform: Platform,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ImageCandidate[]> {
  const aliases = await stage(source, staging, maxBytes);
  const resolve = (name: string): string => {
    let rel = posix.normalize(name).replace(/^\.\//, '');
    for (let i = 0; i < 10; i++) {
      if (rel.startsWith('..') || rel.startsWith('/'))
        throw bad(`member ${JSON.stringify(name)} points outside the archive`);
      const next = aliases.get(rel);
      if (next === undefined) return join(staging, rel);
      rel = next;
    }
    throw bad(`member ${JSON.stringify(name)}: too many levels of links`);
  };
  if (await exists(join(staging, 'manifest.json'))) return dockerArchive(staging, resolve);
  if ((await exists(join(staging, 'oci-layout'))) && (await exists(join(staging, 'index.json')))) {
    return ociLayout(staging, resolve, platform);
  }
  throw bad('not a docker-archive (no manifest.json) nor an OCI image layout (no oci-layout and index.json)');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}

/** Writes regular members under `staging`; links become aliases (never created on disk). */
async function stage(source: Readable, staging: string, maxBytes: number): Promise<Map<string, string>> {
  const aliases = new Map<string, string>();
  const plain = await decompress(source, 'archive');
  const ex = tar.extract();
  // A gzipped archive is a bomb like a layer: its uncompressed tar may use only the disk's room.
  const limit = new ByteLimit(maxBytes, () =>
    bad(`uncompressed, the archive exceeds the ${maxBytes} bytes the disk can spare (imageMinFreeBytes)`),
  );
  const feeding = pipeline(plain, limit, ex as unknown as NodeJS.WritableStream);
  feeding.catch((err: unknown) => ex.destroy(err instanceof Error ? err : new Error(String(err))));
  let sawAny = false;
  for await (const entry of ex) {
    sawAny = true;
    const h = entry.header;
    const body = entry as unknown as Body;
    let comps: string[];
    try {
      comps = entryComponents(h.name);
    } catch (err) {
      body.resume();
      if (err instanceof UnsafePathError)
        throw bad(`member ${JSON.stringify(h.name)} refused: ${err.message}`);
      throw err;
    }
    const rel = comps.join('/');
    if (h.type === 'file' || h.type === 'contiguous-file') {
      const p = join(staging, ...comps);
      await mkdir(dirname(p), { recursive: true });
      const fh = await open(p, 'w', 0o600);
      try {
        for await (const chunk of body) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    } else if (h.type === 'symlink' && rel) {
      aliases.set(rel, posix.normalize(posix.join(posix.dirname(rel), h.linkname ?? '')));
    } else if (h.type === 'link' && rel) {
      aliases.set(rel, posix.normalize(h.linkname ?? ''));
    }
    body.resume();
  }
  await feeding;
  if (!sawAny) throw bad('the archive is empty');
  return aliases;
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw bad(`${what} is missing`);
    throw bad(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function blobDigestOf(name: string): string | undefined {
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /(?:^|\/)([a-f0-9]{64})\.json$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

function fileLayer(path: string, label: string, digest?: string, size?: number): LayerSource {
  return {
    label,
    ...(digest ? { digest } : {}),
    ...(size !== undefined ? { size } : {}),
    open: async () => {
      if (!(await exists(path))) throw bad(`${label} is missing from the archive`);
      return createReadStream(path);
    },
  };
}

async function dockerArchive(staging: string, resolve: (n: string) => string): Promise<ImageCandidate[]> {
  const manifest = await readJson(join(staging, 'manifest.json'), 'manifest.json');
  if (!Array.isArray(manifest) || manifest.length === 0) throw bad('manifest.json must be a non-empty array');
  const out: ImageCandidate[] = [];
  for (const [i, raw] of manifest.entries()) {
    const m = raw as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    if (typeof m.Config !== 'string') throw bad(`manifest.json[${i}].Config must be a file name`);
    if (!Array.isArray(m.Layers) || !m.Layers.every((l) => typeof l === 'string')) {
      throw bad(`manifest.json[${i}].Layers must be a list of file names`);
    }
    const tags = Array.isArray(m.RepoTags)
      ? m.RepoTags.filter((t): t is string => typeof t === 'string')
      : [];
    let config: Buffer;
    try {
      config = await readFile(resolve(m.Config));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw bad(`config ${m.Config} named in manifest.json is missing`);
      throw err;
    }
    const configDigest = blobDigestOf(m.Config);
    if (configDigest && sha256Of(config) !== configDigest) {
      throw bad(`config ${m.Config}: content hashes to ${sha256Of(config)}, not ${configDigest}`);
    }
    out.push({
      refs: tags.map(normalizeReference),
      config,
      ...(configDigest ? { configDigest } : {}),
      repoDigests: [],
      layers: (m.Layers as string[]).map((l) => fileLayer(resolve(l), `layer ${l}`, blobDigestOf(l))),
      source: 'load',
    });
  }
  return out;
}

/** A descriptor's size: a non-negative integer, or a refusal naming the blob. */
export function descriptorSize(d: Descriptor): number {
  if (!Number.isSafeInteger(d.size) || (d.size as number) < 0) {
    throw new InvalidArgumentError(
      `layer ${d.digest}: descriptor size ${JSON.stringify(d.size)} is not a non-negative integer`,
      { field: 'layer' },
    );
  }
  return d.size as number;
}

function ociRef(d: Descriptor): string | undefined {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'];
  if (full) return normalizeReference(full);
  const name = a['org.opencontainers.image.ref.name'];
  if (!name) return undefined;
  // A bare tag (`latest`) names no repository: the image is loaded untagged.
  if (!name.includes('/') && !name.includes(':') && !name.includes('@')) return undefined;
  return parseReference(name).ref;
}

async function ociLayout(
  staging: string,
  resolve: (n: string) => string,
  platform: Platform,
): Promise<ImageCandidate[]> {
  const layout = (await readJson(join(staging, 'oci-layout'), 'oci-layout')) as {
    imageLayoutVersion?: unknown;
  };
  if (typeof layout?.imageLayoutVersion !== 'string') throw bad('oci-layout has no imageLayoutVersion');
  const blob = async (d: Descriptor, what: string): Promise<Buffer> => {
    const m = /^sha256:([a-f0-9]{64})$/.exec(d.digest ?? '');
    if (!m) throw bad(`${what}: digest ${JSON.stringify(d.digest)} is not sha256:<hex>`);
    let data: Buffer;
    try {
      data = await readFile(resolve(`blobs/sha256/${m[1]}`));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw bad(`${what}: blob ${d.digest} is missing from blobs/sha256`);
      throw err;
    }
    if (sha256Of(data) !== d.digest)
      throw bad(`${what}: blob ${d.digest} content hashes to ${sha256Of(data)}`);
    return data;
  };
  const index = (await readJson(join(staging, 'index.json'), 'index.json')) as { manifests?: Descriptor[] };
  if (!Array.isArray(index.manifests) || index.manifests.length === 0)
    throw bad('index.json lists no manifests');
  const out: ImageCandidate[] = [];
  for (const top of index.manifests) {
    const ref = ociRef(top);
    let desc = top;
    // A nested index (multi-platform image): take the host's manifest.
    for (let depth = 0; desc.mediaType && INDEX_TYPES.includes(desc.mediaType); depth++) {
      if (depth > 4) throw bad(`index ${top.digest} nests too deeply`);
      const nested = JSON.parse((await blob(desc, `index ${desc.digest}`)).toString('utf8')) as {
        manifests?: Descriptor[];
      };
      desc = pickPlatform(nested.manifests ?? [], platform, `index ${desc.digest}`);
    }
    const manifestBytes = await blob(desc, `manifest ${desc.digest}`);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as {
      config?: Descriptor;
      layers?: Descriptor[];
    };
    if (!manifest.config || !Array.isArray(manifest.layers))
      throw bad(`manifest ${desc.digest} has no config or layers`);
    const config = await blob(manifest.config, `config ${manifest.config.digest}`);
    out.push({
      refs: ref ? [ref] : [],
      config,
      configDigest: manifest.config.digest,
      manifest: manifestBytes,
      manifestDigest: desc.digest,
      repoDigests: [],
      layers: manifest.layers.map((l) => {
        const m = /^sha256:([a-f0-9]{64})$/.exec(l.digest ?? '');
        if (!m) throw bad(`layer digest ${JSON.stringify(l.digest)} is not sha256:<hex>`);
        return fileLayer(resolve(`blobs/sha256/${m[1]}`), `layer ${l.digest}`, l.digest, descriptorSize(l));
      }),
      source: 'load',
    });
  }
  return out;
}
