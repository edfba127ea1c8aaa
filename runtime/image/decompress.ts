import { PassThrough, Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { InvalidArgumentError } from '../base/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** By magic bytes, not by media type: registries and archives mislabel layers often enough. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Reads the first bytes of `source` and returns a stream that still yields all of it. */
async function peek(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    chunks.push(b);
    len += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}

/**
 * The uncompressed tar behind `source` (gzip, zstd or plain), with Node's own
 * zlib for both (zstd is in zlib since Node 22.15/23.8: the `zstd` process
 * berth spawned on Node 20 is gone). A corrupt stream fails the layer with
 * an error naming it, never a short tar. zstd frames are decoded with the
 * library's default window limit (2^27 bytes): a frame asking for more is
 * refused instead of making the agent allocate it.
 */
export async function decompress(source: Readable, what: string): Promise<Readable> {
  const { head, stream } = await peek(source, 4);
  const kind = detectCompression(head);
  if (kind === 'none') return stream;
  const inflate = kind === 'gzip' ? createGunzip() : createZstdDecompress();
  const out = new PassThrough();
  let sourceError: Error | undefined;
  stream.on('error', (e) => {
    sourceError = e;
    inflate.destroy(e);
    out.destroy(e);
  });
  inflate.on('error', (err) => {
    if (err === sourceError) return;
    stream.destroy();
    out.destroy(
      new InvalidArgumentError(`${what}: ${kind} data is corrupt: ${err.message}`, {
        field: what,
        cause: err,
      }),
    );
  });
  // If the consumer gives up early, stop inflating.
  out.on('close', () => {
    if (!inflate.destroyed) inflate.destroy();
  });
  return stream.pipe(inflate).pipe(out);
}
