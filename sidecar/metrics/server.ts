import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { FailedPreconditionError, messageOf, UnavailableError } from '../../src/common/errors.js';
import type { Logger } from '../../src/common/log.js';
import type { MetricsCollector } from './collector.js';
import { FAMILIES, INFO_FAMILY, SELF_FAMILIES } from './families.js';
import {
  type AnyRegistry,
  createDefaultRegistry,
  type ExpositionFormat,
  renderFamilies,
} from './registry.js';

export interface MetricsServerOptions {
  collector: MetricsCollector;
  logger: Logger;
  /** Default 127.0.0.1; use 0.0.0.0 for a Prometheus elsewhere. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
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
  private queue: Promise<unknown> = Promise.resolve();

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
        this.opts.logger.error({ err: messageOf(err) }, 'metrics: request failed');
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
  }

  /** Collect once and render in `format` (also used by the API's stats without HTTP). */
  async render(format: ExpositionFormat): Promise<{ contentType: string; body: string }> {
    const { contentType, chunks } = await this.renderChunks(format);
    return { contentType, body: chunks.join('') };
  }

  /**
   * The exposition as one chunk per family. /metrics writes them one by one:
   * joining 1,000 containers' 7 MB into one string first would double the
   * memory a scrape needs.
   */
  private renderChunks(format: ExpositionFormat): Promise<{ contentType: string; chunks: string[] }> {
    const run = this.queue.then(async () => {
      const collector = this.opts.collector;
      const snapshot = await collector.collect();
      const registry = this.registries[format];
      const defs = [...FAMILIES, INFO_FAMILY, ...SELF_FAMILIES, ...collector.externalFamilies()];
      const sep = format === 'openmetrics' ? '\n' : '\n\n';
      const chunks = renderFamilies(defs, snapshot, format).map((b) => b + sep);
      // The process metrics come last, as when they shared one registry; OpenMetrics' `# EOF` with them.
      chunks.push(await registry.metrics());
      return { contentType: registry.contentType, chunks };
    });
    this.queue = run.catch(() => {});
    return run;
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
    const { contentType, chunks } = await this.renderChunks(negotiate(req.headers.accept));
    let length = 0;
    for (const c of chunks) length += Buffer.byteLength(c);
    res.writeHead(200, { 'content-type': contentType, 'content-length': length });
    if (req.method !== 'HEAD') for (const c of chunks) res.write(c);
    res.end();
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

export const CONTENT_TYPES = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
} as const;
