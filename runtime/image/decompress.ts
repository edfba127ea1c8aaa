import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { FailedPreconditionError, InvalidArgumentError } from '../../src/common/errors.js';

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
 * The uncompressed tar behind `source` (gzip, zstd or plain). zstd goes
 * through the `zstd` binary (Debian package zstd): Node 20 has no zstd in
 * zlib, and the pure-JS decoders on npm are slower and less exercised than
 * the reference implementation.
 */
export async function decompress(source: Readable, what: string): Promise<Readable> {
  const { head, stream } = await peek(source, 4);
  const kind = detectCompression(head);
  if (kind === 'none') return stream;
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    stream.on('error', (e) => gunzip.destroy(e));
    gunzip.on('error', () => stream.destroy());
    return stream.pipe(gunzip).on('error', () => undefined) as Readable;
  }
  return zstdDecompress(stream, what);
}

function zstdDecompress(stream: Readable, what: string): Readable {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  // Ends only after zstd exited 0: a corrupt frame must fail the layer, not look like a short one.
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  child.on('error', (err) => {
    const e =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? new FailedPreconditionError(
            `${what}: zstd-compressed layers need the zstd binary (Debian package zstd)`,
            {
              cause: err,
            },
          )
        : err;
    out.destroy(e);
  });
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else {
      out.destroy(
        new InvalidArgumentError(`${what}: zstd data is corrupt: ${stderr.trim() || `zstd exited ${code}`}`, {
          field: what,
        }),
      );
    }
  });
  stream.on('error', (e) => {
    child.kill('SIGKILL');
    out.destroy(e);
  });
  child.stdin.on('error', () => undefined);
  stream.pipe(child.stdin);
  // If the consumer gives up early, do not leave zstd behind.
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}
