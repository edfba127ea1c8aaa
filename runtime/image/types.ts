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
