import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { isLoopbackHost } from '../base/address.js';
import { InvalidArgumentError, NotImplementedError } from '../base/errors.js';
import type { PullProgress } from '../runtime.js';
import { descriptorSize } from './archive.js';
import type { ImageCandidate, LayerSource } from './candidate.js';
import { sha256Of } from './digest.js';
import { hostPlatform, parsePlatform, pickPlatform } from './platform.js';
import { type ImageReference, registryHost } from './reference.js';
import { type Credentials, RegistryClient, readBody } from './registry.js';
import { type Descriptor, INDEX_TYPES, MANIFEST_TYPES, MEDIA, type Platform } from './types.js';

/** Per-registry settings from the agent's config. */
export interface RegistryHostConfig {
  /** PEM CA file for a registry with a private CA. */
  caFile?: string;
  username?: string;
  password?: string;
}

/** Store-wide pull settings (agent config, never per-request input). */
export interface PullConfig {
  /** host[:port] of registries allowed over plain http / unverified TLS (Docker's insecure-registries). */
  insecureRegistries?: string[];
  /** Registries on loopback (127.0.0.0/8, ::1, localhost) may use plain http. Off by default. */
  allowInsecureLoopback?: boolean;
  /** Keyed by host[:port] as written in references (`docker.io` for Docker Hub). */
  registries?: Record<string, RegistryHostConfig>;
  /** Layers downloaded at once per pull (default 3). */
  concurrency?: number;
  /** Idle timeout of a registry connection (default 30 s). */
  timeoutMs?: number;
}

/** Per-pull options as the API passes them (`berth pull --user … --platform …`). */
export interface PullOptions {
  username?: string;
  password?: string;
  /** PEM CA file on the agent host for this registry. */
  caFile?: string;
  /** os/arch[/variant]; the host's by default. */
  platform?: string;
}

const PULL_KEYS = ['username', 'password', 'caFile', 'platform'] as const;

export function parsePullOptions(raw: Record<string, unknown>): PullOptions {
  const out: PullOptions = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (v === undefined || v === null) continue;
    if (!(PULL_KEYS as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(
        `pull: unknown option ${JSON.stringify(k)} (known: ${PULL_KEYS.join(', ')})`,
        {
          field: k,
        },
      );
    }
    if (typeof v !== 'string') throw new InvalidArgumentError(`pull: ${k} must be a string`, { field: k });
    out[k as (typeof PULL_KEYS)[number]] = v;
  }
  if ((out.username === undefined) !== (out.password === undefined)) {
    throw new InvalidArgumentError('pull: username and password go together', {
      field: out.username ? 'password' : 'username',
    });
  }
  if (out.platform) parsePlatform(out.platform);
  return out;
}

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest];

interface FetchedManifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
  json: Record<string, unknown>;
}

/** Counts bytes for progress without taking the stream out of paused mode. */
class Counter extends Transform {
  n = 0;
  constructor(private readonly tick: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    this.tick(this.n);
    cb(null, chunk);
  }
}

/** A client for `domain` with the pull's (or the stored login's) CA and credentials. */
async function registryClient(domain: string, opts: PullOptions, cfg: PullConfig): Promise<RegistryClient> {
  const host = registryHost(domain);
  const hostCfg = cfg.registries?.[domain] ?? {};
  const listed = (cfg.insecureRegistries ?? []).some((r) => r === domain || r === host);
  const insecure = listed || (cfg.allowInsecureLoopback === true && isLoopbackHost(host));
  const caFile = opts.caFile ?? hostCfg.caFile;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = await readFile(caFile);
    } catch (err) {
      throw new InvalidArgumentError(`caFile: cannot read ${caFile}: ${(err as Error).message}`, {
        field: 'caFile',
      });
    }
  }
  const username = opts.username ?? hostCfg.username;
  const password = opts.password ?? hostCfg.password;
  const credentials: Credentials | undefined =
    username !== undefined && password !== undefined ? { username, password } : undefined;
  return new RegistryClient({
    host,
    scheme: 'https',
    insecure,
    ...(ca ? { ca } : {}),
    ...(credentials ? { credentials } : {}),
    timeoutMs: cfg.timeoutMs ?? 30_000,
  });
}

/**
 * `berth login`: the registry's `/v2/` with these credentials, as Docker
 * checks a login (a token without a scope for Bearer registries, the
 * credentials themselves for Basic ones). Throws what the registry said.
 */
export async function verifyLogin(
  domain: string,
  login: { username: string; password: string; caFile?: string },
  cfg: PullConfig,
): Promise<void> {
  const client = await registryClient(domain, login, cfg);
  const res = await client.get('/v2/', { scope: '' });
  res.resume();
}

/**
 * Resolves a reference on its registry into an ImageCandidate whose layers
 * stream from the registry when opened (the store decides which it needs).
 */
export async function resolveRemote(
  ref: ImageReference,
  opts: PullOptions,
  cfg: PullConfig,
  onProgress: ((p: PullProgress) => void) | undefined,
): Promise<ImageCandidate> {
  const client = await registryClient(ref.domain, opts, cfg);
  const scope = `repository:${ref.path}:pull`;
  const what = `image ${ref.ref}`;
  const platform: Platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();

  const fetchManifest = async (reference: string): Promise<FetchedManifest> => {
    const res = await client.get(`/v2/${ref.path}/manifests/${reference}`, { accept: ACCEPT, scope });
    const bytes = await readBody(res, 4 << 20);
    const digest = sha256Of(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new InvalidArgumentError(`${what}: manifest ${reference} from the registry hashes to ${digest}`, {
        field: 'image',
      });
    }
    const json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const ctype =
      String(res.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    const mediaType = typeof json.mediaType === 'string' ? json.mediaType : ctype;
    if (json.schemaVersion === 1 || mediaType === MEDIA.dockerSchema1) {
      throw new NotImplementedError(
        `${what}: Docker schema 1 manifests are not supported (push the image again with a current client)`,
      );
    }
    return { mediaType, bytes, digest, json };
  };

  const top = await fetchManifest(ref.digest ?? ref.tag ?? 'latest');
  const blobs: Buffer[] = [];
  let manifest = top;
  if (INDEX_TYPES.includes(top.mediaType) || Array.isArray(top.json.manifests)) {
    const chosen = pickPlatform((top.json.manifests ?? []) as Descriptor[], platform, what);
    manifest = await fetchManifest(chosen.digest);
    if (INDEX_TYPES.includes(manifest.mediaType))
      throw new NotImplementedError(`${what}: nested indexes are not supported`);
    blobs.push(top.bytes);
  } else if (!MANIFEST_TYPES.includes(manifest.mediaType) && !manifest.json.config) {
    throw new InvalidArgumentError(
      `${what}: unsupported manifest media type ${JSON.stringify(manifest.mediaType)}`,
      {
        field: 'image',
      },
    );
  }
  const m = manifest.json as { config?: Descriptor; layers?: Descriptor[] };
  if (!m.config || !Array.isArray(m.layers))
    throw new InvalidArgumentError(`${what}: manifest has no config or layers`, { field: 'image' });
  const cfgRes = await client.get(`/v2/${ref.path}/blobs/${m.config.digest}`, { scope });
  const config = await readBody(cfgRes, 8 << 20);

  const layers: LayerSource[] = m.layers.map((d) => {
    if (d.urls?.length)
      throw new NotImplementedError(
        `${what}: foreign (non-distributable) layer ${d.digest} is not supported`,
      );
    const short = d.digest.slice('sha256:'.length, 'sha256:'.length + 12);
    // The unpacker stops reading at this size: a registry that sends more fails the layer.
    const total = descriptorSize(d);
    onProgress?.({ layer: short, current: 0, total, status: 'waiting' });
    let last = 0;
    return {
      label: `layer ${d.digest}`,
      digest: d.digest,
      size: total,
      onExists: () => onProgress?.({ layer: short, current: total, total, status: 'exists' }),
      onDone: () => onProgress?.({ layer: short, current: total, total, status: 'done' }),
      open: async () => {
        const res = await client.get(`/v2/${ref.path}/blobs/${d.digest}`, { scope });
        const counter = new Counter((n) => {
          // At most every 256 KiB: progress goes over NDJSON to the CLI.
          if (n - last >= 256 * 1024 || n === total) {
            last = n;
            onProgress?.({ layer: short, current: n, total, status: 'downloading' });
          }
        });
        res.on('error', (e) => counter.destroy(e));
        return res.pipe(counter);
      },
    };
  });
  return {
    refs: [ref.ref],
    config,
    configDigest: m.config.digest,
    manifest: manifest.bytes,
    manifestDigest: manifest.digest,
    extraBlobs: blobs,
    repoDigests: [`${ref.name}@${top.digest}`],
    layers,
    source: 'pull',
  };
}
