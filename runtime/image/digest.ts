import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from '../base/errors.js';
import { DIGEST } from './reference.js';

export function sha256Of(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a `sha256:` digest; throws naming `what` when it is not one. */
export function digestHex(digest: string, what = 'digest'): string {
  if (!DIGEST.test(digest)) {
    throw new InvalidArgumentError(`${what}: ${JSON.stringify(digest)} is not a sha256:<64 hex> digest`, {
      field: what,
    });
  }
  return digest.slice('sha256:'.length);
}

/** A pass-through that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
  /** Valid once the stream has ended. */
  digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }
}
