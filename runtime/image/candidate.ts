import type { Readable } from 'node:stream';

/** One layer of an image about to be committed, in config (bottom-first) order. */
export interface LayerSource {
  label: string;
  /** Digest of the bytes `open()` yields (blob digest), checked when known. */
  digest?: string;
  size?: number;
  open(): Promise<Readable>;
  /** Told when the store already has this layer (it is not opened then). */
  onExists?(): void;
  onDone?(): void;
}

/** An image read from an archive, a registry or a rootfs, not yet in the store. */
export interface ImageCandidate {
  refs: string[];
  config: Buffer;
  /** Expected config digest when the source names it. */
  configDigest?: string;
  manifest?: Buffer;
  manifestDigest?: string;
  /** Further blobs to keep (e.g. the multi-platform index a pull came through). */
  extraBlobs?: Buffer[];
  repoDigests: string[];
  layers: LayerSource[];
  source: 'pull' | 'load' | 'import';
}
