import { PassThrough, type Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';

/**
 * Most bytes of a refused upload the API reads and throws away so that the
 * client, still sending, gets the refusal instead of a reset connection
 * (1 GiB: a whole image tarball a client streams; past it the connection is
 * cut, as before).
 */
export const MAX_DISCARD_BYTES = 1024 ** 3;
/** Longest the API waits for a refused upload to finish arriving. */
export const DISCARD_TIMEOUT_MS = 60_000;

/**
 * A request body for a consumer that may give up early (the image store
 * destroys its source when it refuses a layer). The consumer gets a
 * PassThrough, never the request itself, so its destroy does not reset the
 * client's connection; `settle()` then discards what is left of the body
 * (bounded in bytes and time) so that the reply can be sent and read.
 */
export function uploadBody(req: FastifyRequest): { body: Readable; settle: () => Promise<void> } {
  const raw = req.body as Readable;
  const body = new PassThrough();
  let discarded = 0;
  raw.on('data', (chunk: Buffer) => {
    if (body.destroyed) {
      discarded += chunk.length;
      if (discarded > MAX_DISCARD_BYTES) raw.destroy();
      return;
    }
    if (!body.write(chunk)) raw.pause();
  });
  body.on('drain', () => raw.resume());
  body.on('close', () => raw.resume());
  raw.on('end', () => body.end());
  raw.on('error', (e) => body.destroy(e));
  const settle = async (): Promise<void> => {
    if (raw.readableEnded || raw.destroyed) return;
    if (!body.destroyed) body.destroy();
    raw.resume();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        raw.destroy();
        resolve();
      }, DISCARD_TIMEOUT_MS);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      raw.once('end', done);
      raw.once('close', done);
      // A client that breaks off mid-discard ends the discard; its refusal is answered anyway.
      raw.once('error', done);
    });
  };
  return { body, settle };
}

/** Runs `consume` on the upload; on failure the rest of the body is discarded before the error is answered. */
export async function withUpload<T>(
  req: FastifyRequest,
  consume: (body: Readable) => Promise<T>,
): Promise<T> {
  const { body, settle } = uploadBody(req);
  try {
    return await consume(body);
  } catch (err) {
    await settle();
    throw err;
  }
}
