import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Registry } from 'prom-client';
import { FailedPreconditionError, messageOf, UnavailableError } from '../../runtime/base/errors.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import type { Logger } from '../../runtime/base/log.js';
import { BodyBuffer } from './body.js';
import type { MetricsCollector, Snapshot } from './collector.js';
import { FAMILIES, type FamilyDef, INFO_FAMILY, SELF_FAMILIES } from './families.js';
import { type AnyRegistry, createDefaultRegistry, type ExpositionFormat, writeFamilies } from './registry.js';

export interface MetricsServerOptions {
  collector: MetricsCollector;
  logger: Logger;
  /** Default 127.0.0.1; use 0.0.0.0 for a Prometheus elsewhere. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  /**
   * gzip the body when the client accepts it (Prometheus does). Default
   * false: on loopback it costs more (CPU here, gunzip in the scraper) than
   * it saves; for a Prometheus across a network it cuts ~7.6 MB to ~0.4 MB
   * per 1,000 containers.
   */
  gzip?: boolean;
}

/**
 * Serves `/metrics`. Each request runs one collection (requests are
 * serialised, so concurrent scrapes never interleave) and renders it in the
 * format the Accept header asks for: OpenMetrics 1.0 when it names
 * application/openmetrics-text, Prometheus text 0.0.4 otherwise.
 */
export class MetricsServer {
  private readonly registries: Record<ExpositionFormat, AnyRegistry>;
  private server: Server | undefined;
  private readonly queue = new Mutex();
  /** Chunk buffers the socket has finished sending, reused by the next ones (see stream()). */
  private readonly chunks: BodyBuffer[] = [];

  constructor(private readonly opts: MetricsServerOptions) {
    this.registries = {
      prometheus: createDefaultRegistry('prometheus'),
      openmetrics: createDefaultRegistry('openmetrics'),
    };
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.server) throw new FailedPreconditionError('metrics server: already started');
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error({ err }, 'metrics: request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`error: ${messageOf(err)}\n`);
      });
    });
    const host = this.opts.host ?? '127.0.0.1';
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new UnavailableError(
        `metrics.listen: cannot listen on ${host}:${this.opts.port}: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    this.server = server;
    return this.address();
  }

  address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new FailedPreconditionError('metrics server: not listening');
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Its kept-open cgroup files would otherwise stay open until a next scrape that never comes.
    this.opts.collector.release();
  }

  /** Collect once and render in `format` (also used by the API's stats without HTTP). */
  async render(format: ExpositionFormat): Promise<{ contentType: string; body: string }> {
    const { contentType, snapshot, defs, processMetrics } = await this.collectOnce(format);
    const body = new BodyBuffer();
    writeFamilies(defs, snapshot, format, separator(format), body);
    body.text(processMetrics);
    return { contentType, body: body.bytes().toString('utf8') };
  }

  /**
   * One collection and the process metrics, serialised with other scrapes.
   * Rendering happens outside the queue: a slow client never holds up the next scrape.
   */
  private collectOnce(format: ExpositionFormat): Promise<Scrape> {
    return this.queue.run(async () => {
      const collector = this.opts.collector;
      const snapshot = await collector.collect();
      const registry = this.registries[format];
      return {
        contentType: registry.contentType,
        snapshot,
        defs: [...FAMILIES, INFO_FAMILY, ...SELF_FAMILIES, ...collector.externalFamilies()],
        // The process metrics come last, as when they shared one registry; OpenMetrics' `# EOF` with them.
        processMetrics: await registry.metrics(),
      };
    });
  }

  /**
   * Streams the exposition family by family in chunks of ~CHUNK_BYTES
   * (chunked transfer encoding), waiting for the socket to drain between
   * them: a 1,000-container scrape is ~7.6 MB, and this way it never exists
   * in memory whole, only what the socket has not taken yet.
   */
  private async stream(out: Writable, format: ExpositionFormat, scrape: Scrape): Promise<void> {
    const { snapshot, defs, processMetrics } = scrape;
    const sep = separator(format);
    let body = this.takeChunk();
    for (const def of defs) {
      writeFamilies([def], snapshot, format, sep, body);
      if (body.length < CHUNK_BYTES) continue;
      // The stream holds the bytes until it has sent them: the buffer returns to the pool then.
      const sent = body;
      const full = out.write(sent.bytes(), () => this.returnChunk(sent));
      body = this.takeChunk();
      if (!full && !(await drained(out))) return;
    }
    body.text(processMetrics);
    const last = body;
    out.end(last.bytes(), () => this.returnChunk(last));
  }

  private takeChunk(): BodyBuffer {
    const b = this.chunks.pop() ?? new BodyBuffer(CHUNK_BYTES + CHUNK_BYTES / 4);
    b.reset();
    return b;
  }

  private returnChunk(b: BodyBuffer): void {
    // A few suffice (the socket drains between chunks); one that grew past a chunk is let go.
    if (this.chunks.length < MAX_POOLED_CHUNKS && b.capacity <= CHUNK_BYTES * 2) this.chunks.push(b);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: metrics are served on /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    const format = negotiate(req.headers.accept);
    const gzip = this.opts.gzip === true && acceptsGzip(req.headers['accept-encoding']);
    const scrape = await this.collectOnce(format);
    res.writeHead(200, {
      'content-type': scrape.contentType,
      vary: 'Accept-Encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (!gzip) {
      await this.stream(res, format, scrape);
      return;
    }
    // Level 1: the exposition is repetitive enough that it already shrinks ~20× (7.6 MB → 0.36 MB
    // at 1,000 containers) for ~14 ms of CPU, and zlib runs on the threadpool, beside the rendering.
    const gz = createGzip({ level: 1 });
    const sent = pipeline(gz, res).catch((err: unknown) => {
      this.opts.logger.debug({ err }, 'metrics: response aborted');
    });
    await this.stream(gz, format, scrape);
    await sent;
  }
}

/**
 * OpenMetrics only when the client lists application/openmetrics-text with a
 * non-zero q (Prometheus sends it first in its default Accept); everything
 * else, including no Accept header, gets Prometheus text 0.0.4.
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  for (const part of (accept ?? '').split(',')) {
    const [type, ...params] = part.trim().split(';');
    if (type?.trim().toLowerCase() !== 'application/openmetrics-text') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return 'openmetrics';
  }
  return 'prometheus';
}

/** One collection, ready to render. */
interface Scrape {
  contentType: string;
  snapshot: Snapshot;
  defs: FamilyDef[];
  processMetrics: string;
}

/** Written to the socket whenever this much has been rendered. */
const CHUNK_BYTES = 128 * 1024;
const MAX_POOLED_CHUNKS = 4;

const separator = (format: ExpositionFormat) => (format === 'openmetrics' ? '\n' : '\n\n');

/** True once the stream can take more, false when it was closed first (the client went away). */
function drained(out: Writable): Promise<boolean> {
  if (out.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}

/** `gzip` listed in Accept-Encoding with a non-zero q (`*` is not taken as gzip). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  for (const part of (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')) {
    const [coding, ...params] = part.trim().split(';');
    const c = coding?.trim().toLowerCase();
    if (c !== 'gzip' && c !== 'x-gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

export const CONTENT_TYPES = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
} as const;
