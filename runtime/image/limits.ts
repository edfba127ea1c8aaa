import { statfs } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from '../base/errors.js';

/**
 * Bounds on what one layer may cost the host. Images are hostile input: a
 * gzip bomb (a ~1000:1 ratio) or a tar of millions of empty files must fail
 * the pull or load, not fill the disk or its inodes. Numbers and reasons in
 * runtime/image/README.md ("Limits").
 */
export interface LayerLimits {
  /** Most bytes of uncompressed tar one layer may unpack (default 16 GiB). */
  maxLayerBytes: number;
  /** Most tar entries (files, dirs, links…) in one layer (default 1,000,000). */
  maxLayerEntries: number;
  /** Free bytes the store's filesystem must keep; a layer or archive that would eat into them fails (default 512 MiB). */
  minFreeBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxLayerBytes: 16 * 1024 ** 3,
  maxLayerEntries: 1_000_000,
  minFreeBytes: 512 * 1024 ** 2,
};

/** The limits with defaults for the unset ones; a bad value names its key. */
export function layerLimits(o: Partial<LayerLimits>): LayerLimits {
  const out = { ...DEFAULT_LAYER_LIMITS };
  for (const key of Object.keys(DEFAULT_LAYER_LIMITS) as (keyof LayerLimits)[]) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < (key === 'minFreeBytes' ? 0 : 1)) {
      throw new InvalidArgumentError(`${key}: must be a positive integer, got ${JSON.stringify(v)}`, {
        field: key,
      });
    }
    out[key] = v;
  }
  return out;
}

/** Bytes available to root-owned writes under `dir` (what `df` shows as available). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** A pass-through that fails with `tooMany()` once more than `max` bytes have flowed. */
export class ByteLimit extends Transform {
  bytes = 0;
  constructor(
    private readonly max: number,
    private readonly tooMany: () => Error,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) cb(this.tooMany());
    else cb(null, chunk);
  }
}
