import type { FastifyReply } from 'fastify';

/**
 * Streams newline-delimited JSON to the client: one object per line, flushed
 * as written. Returns a writer and a promise that resolves when the client
 * goes away (so producers can stop).
 */
export function ndjson(reply: FastifyReply): {
  write: (obj: unknown) => boolean;
  end: () => void;
  closed: AbortSignal;
} {
  const ac = new AbortController();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  res.on('close', () => ac.abort());
  return {
    write: (obj) => (res.writableEnded ? false : res.write(`${JSON.stringify(obj)}\n`)),
    end: () => {
      if (!res.writableEnded) res.end();
    },
    closed: ac.signal,
  };
}
