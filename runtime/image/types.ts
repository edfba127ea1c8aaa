import type { ImageSummary, PullProgress } from '../runtime.js';
import type { ImageEvent, ImageTopic } from '../types.js';

/** Media types berth reads (OCI and Docker schema 2). */
export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** One layer of a stored image, bottom first in `ImageRecord.layers`. */
export interface LayerRef {
  /** sha256 of the uncompressed tar; names the unpacked dir under layers/. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

/** What the refs index keeps per image (keyed by id = config digest). */
export interface ImageRecord {
  id: string;
  /** Manifest digest when the image came from a registry or an OCI layout. */
  manifestDigest?: string;
  /** `name@sha256:…` of the manifest each registry served (Docker's RepoDigests). */
  repoDigests: string[];
  layers: LayerRef[];
  /** Every blob this image keeps in the store: config, manifest, index. */
  blobs: string[];
  /** `created` of the image config. */
  created?: string;
  addedAt: string;
  source: 'pull' | 'load' | 'import';
}

export type ImageEventSink = (topic: ImageTopic, event: ImageEvent) => void;

/**
 * The image store as the container manager sees it (store.ts implements
 * both interfaces below). An image is in the store from a pull, load or
 * import until `remove`; a container pins the image id it was created from
 * (`inUse`), not its tag.
 */
export interface ImagePort {
  /** The stored image a reference, id or id prefix names; throws NotFoundError when it is not in the store. */
  resolve(ref: string): Promise<ResolvedImage>;
}

export interface ResolvedImage {
  /** Image id (config digest). */
  id: string;
  /** Normalised reference the user asked for. */
  ref: string;
  name: string;
  tag: string;
  /** OCI image config (`config` object of the image config blob). */
  config: Record<string, unknown>;
  /** Unpacked layer directories, bottom (base) layer first. */
  layerDirs: string[];
}

/** Image operations the runtime forwards to the image store (list, pull, load, …). */
export interface ImageOps {
  /** Every stored image with its refs. */
  list(): Promise<ImageSummary[]>;
  /** Pulls from a registry (v2 API); `onProgress` hears per-layer progress. */
  pull(
    ref: string,
    opts: Record<string, unknown>,
    onProgress?: (p: PullProgress) => void,
  ): Promise<ImageSummary>;
  /** `docker save` or OCI-layout tarball. */
  load(tar: NodeJS.ReadableStream): Promise<ImageSummary[]>;
  /** A rootfs tarball as a one-layer image named `ref` (`docker import`). */
  importRootfs(tar: NodeJS.ReadableStream, ref: string): Promise<ImageSummary>;
  /** Untags, and deletes what no ref keeps; refuses an image `inUse` says a container uses unless `force`. */
  remove(ref: string, opts: { force?: boolean; inUse: (imageId: string) => boolean }): Promise<string[]>;
  /** Adds `target` as another ref of the image `source` names. */
  tag(source: string, target: string): Promise<void>;
  /** `berth login`: checks and keeps credentials for a registry; returns its domain. */
  login(registry: string, login: { username: string; password: string; caFile?: string }): Promise<string>;
  /** Forgets a registry's credentials; returns its domain. */
  logout(registry: string): Promise<string>;
  /** Registries with kept credentials. */
  logins(): Promise<string[]>;
}
