import { timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../../runtime/base/address.js';
import {
  errorCode,
  FailedPreconditionError,
  httpStatus,
  InvalidArgumentError,
  messageOf,
} from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerImageRoutes } from './routes/images.js';
import { registerSystemRoutes, type SystemInfo } from './routes/system.js';
import { registerVolumeRoutes } from './routes/volumes.js';
import type { ApiDeps } from './types.js';

export interface ApiListenOptions {
  /** Unix socket path; created with mode `socketMode` (default 0660, owner root). */
  socketPath: string;
  socketMode?: number;
  /** Optional TCP listener. Refused without a token: the API can run containers as root. */
  tcp?: ApiTcpOptions;
}

export interface ApiTcpOptions {
  host: string;
  port: number;
  token: string;
  /** TLS for the TCP listener (PEM files); with `clientCaFile` clients must present a certificate it signed. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /**
   * Listen without TLS on an address that is not loopback (the token then
   * travels in clear text). Refused unless set (`apiTcpInsecure`).
   */
  insecure?: boolean;
}

interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/**
 * The agent's HTTP API. The unix socket is the default and only trusted
 * transport (access is controlled by the socket's file mode); TCP requires a
 * bearer token on every request. Errors become `{error: {code, message,
 * field?}}` with the status of their code, here and nowhere else.
 */
export class ApiServer {
  private readonly apps: FastifyInstance[] = [];
  private socketPath: string | undefined;
  tcpAddress: { host: string; port: number } | undefined;

  constructor(
    private readonly deps: ApiDeps,
    private readonly logger: Logger,
    private readonly info: () => SystemInfo,
  ) {}

  async listen(opts: ApiListenOptions): Promise<void> {
    if (opts.tcp && !opts.tcp.token) {
      throw new InvalidArgumentError('api.tcp: a TCP listener needs a token (api.token / BERTH_API_TOKEN)', {
        field: 'api.token',
      });
    }
    const tls = opts.tcp ? await tcpTls(opts.tcp) : undefined;
    await mkdir(dirname(opts.socketPath), { recursive: true, mode: 0o755 });
    await claimSocketPath(opts.socketPath);
    const unixApp = await this.build(undefined);
    await unixApp.listen({ path: opts.socketPath });
    await chmod(opts.socketPath, opts.socketMode ?? 0o660);
    this.socketPath = opts.socketPath;
    this.apps.push(unixApp);
    if (opts.tcp) {
      const tcpApp = await this.build(opts.tcp.token, tls);
      await tcpApp.listen({ host: opts.tcp.host, port: opts.tcp.port });
      const addr = tcpApp.server.address();
      if (addr && typeof addr === 'object') this.tcpAddress = { host: addr.address, port: addr.port };
      this.apps.push(tcpApp);
    }
  }

  /** An app without a listener, for in-process tests through `inject`. */
  async build(token: string | undefined, tls?: TlsMaterial): Promise<FastifyInstance> {
    const app = Fastify({
      logger: false,
      bodyLimit: 1024 * 1024,
      forceCloseConnections: true,
      ...(tls
        ? {
            https: {
              cert: tls.cert,
              key: tls.key,
              minVersion: 'TLSv1.2' as const,
              // Mutual TLS: the handshake itself refuses a client without a certificate the CA signed.
              ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
            },
          }
        : {}),
    }) as unknown as FastifyInstance;
    await app.register(websocket);
    // Image tarballs are streamed to the runtime, never buffered.
    app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], (_req, payload, done) =>
      done(null, payload),
    );
    if (token !== undefined) {
      const want = Buffer.from(`Bearer ${token}`);
      app.addHook('onRequest', async (req, reply) => {
        const got = Buffer.from(req.headers.authorization ?? '');
        if (got.length !== want.length || !timingSafeEqual(got, want)) {
          reply
            .code(401)
            .header('www-authenticate', 'Bearer')
            .send({
              error: { code: 'Unauthenticated', message: 'missing or wrong bearer token' },
            });
        }
      });
    }
    app.setErrorHandler((err, req, reply) => {
      const code = errorCode(err) ?? (isFastifyClientError(err) ? 'InvalidArgument' : 'Internal');
      const status = code === 'InvalidArgument' && !errorCode(err) ? 400 : httpStatus(err);
      if (status >= 500) this.logger.error({ err, url: req.url }, 'api request failed');
      const field = err instanceof InvalidArgumentError ? err.field : undefined;
      reply.code(status).send({ error: { code, message: messageOf(err), ...(field ? { field } : {}) } });
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).send({ error: { code: 'NotFound', message: `no API route ${req.method} ${req.url}` } });
    });
    registerSystemRoutes(app, this.deps, this.info, this.logger);
    registerContainerRoutes(app, this.deps, this.logger);
    registerExecRoutes(app, this.deps);
    registerVolumeRoutes(app, this.deps);
    registerImageRoutes(app, this.deps);
    await app.ready();
    return app;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.apps.map((a) => a.close()));
    this.apps.length = 0;
    if (this.socketPath) await rm(this.socketPath, { force: true });
  }
}

/**
 * The TCP listener's TLS files, read now so that a bad path fails the start
 * naming its option; without TLS only a loopback address is allowed unless
 * `insecure` (apiTcpInsecure) forces it: the token would travel in clear.
 */
async function tcpTls(tcp: ApiTcpOptions): Promise<TlsMaterial | undefined> {
  if (!tcp.tls) {
    if (!isLoopbackHost(tcp.host) && !tcp.insecure) {
      throw new InvalidArgumentError(
        `apiTcp: ${tcp.host} is not loopback: without TLS the API token would cross the network in clear text; set apiTlsCert and apiTlsKey (and apiTlsClientCa for mutual TLS), or apiTcpInsecure to force it`,
        { field: 'apiTcp' },
      );
    }
    return undefined;
  }
  const read = async (file: string, field: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new InvalidArgumentError(`${field}: cannot read ${file}: ${messageOf(err)}`, { field });
    }
  };
  const { certFile, keyFile, clientCaFile } = tcp.tls;
  return {
    cert: await read(certFile, 'apiTlsCert'),
    key: await read(keyFile, 'apiTlsKey'),
    ...(clientCaFile ? { ca: await read(clientCaFile, 'apiTlsClientCa') } : {}),
  };
}

function isFastifyClientError(err: unknown): boolean {
  const status = (err as { statusCode?: number }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Refuses a socket path that a live process still listens on (another agent:
 * removing its socket would cut its clients off); removes one that nobody
 * answers on, left by an agent that died (listen would fail with EADDRINUSE).
 */
export async function claimSocketPath(path: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) {
    throw new FailedPreconditionError(
      `socket: another process is listening on ${path} (is a berth agent running already?)`,
    );
  }
  await rm(path, { force: true });
}
