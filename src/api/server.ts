import { timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { isLoopbackHost } from '../../runtime/base/address.js';
import {
  errorCode,
  FailedPreconditionError,
  httpStatus,
  InvalidArgumentError,
  messageOf,
  PermissionDeniedError,
  UnauthenticatedError,
} from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { compileSchema, schemaError } from '../../runtime/base/schema.js';
import { registerOpenApiRoute } from './openapi.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerDashboardLoginRoute } from './routes/dashboard-login.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerImageRoutes } from './routes/images.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { registerProjectRoutes } from './routes/projects.js';
import { registerStreamRoutes } from './routes/streams.js';
import { registerSystemRoutes, type SystemInfo } from './routes/system.js';
import { registerVolumeRoutes } from './routes/volumes.js';
import { errorBody } from './schemas.js';
import { answerProtocol } from './session.js';
import type { ApiDeps } from './types.js';

/** How a request part is named in an error about it as a whole (`request: must be an object`). */
const PART_NAMES: Record<string, string> = { body: 'request', querystring: 'query', params: 'params' };

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

export interface TlsMaterial {
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

  /**
   * An app without a listener, for in-process tests through `inject`;
   * `onRoute` sees every route as it is registered (the schema test walks them).
   * `dashboard` makes it the dashboard's app (dashboard-server.ts): its checks
   * and pages come first, instead of the API listeners' refusal of pages.
   */
  async build(
    token: string | undefined,
    tls?: TlsMaterial,
    onRoute?: (route: RouteOptions) => void,
    dashboard?: (app: FastifyInstance) => void,
  ): Promise<FastifyInstance> {
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
    if (onRoute) app.addHook('onRoute', onRoute);
    // The OpenAPI document lists what this app serves, routes registered later by others included.
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (r) => {
      routes.push(r);
    });
    // Route schemas (src/api/schemas.ts) are checked by berth's ajv: no coercion, no removal of
    // unknown keys, and a rejection is an InvalidArgumentError naming the field (`ports[0]: ...`).
    app.setValidatorCompiler(({ schema, httpPart }) => {
      const validate = compileSchema(schema as Record<string, unknown>);
      const root = PART_NAMES[httpPart ?? ''] ?? httpPart ?? 'request';
      return (data: unknown) =>
        validate(data) ? { value: data } : { error: schemaError(validate.errors ?? [], root) };
    });
    // Response schemas document the wire (and an OpenAPI document later); bodies are written as
    // JSON.stringify writes them, exactly as without a schema, so no field is dropped or coerced.
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    // A WebSocket is never answered with a protocol entry that carries the dashboard's session key.
    await app.register(websocket, { options: { handleProtocols: answerProtocol } });
    // Image tarballs are streamed to the runtime, never buffered.
    app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], (_req, payload, done) =>
      done(null, payload),
    );
    if (dashboard) dashboard(app);
    else {
      // The API listeners are for the CLI: a browser page (it always sends Origin) may not open a WebSocket here.
      app.addHook('onRequest', async (req, reply) => {
        if (req.headers.origin === undefined || req.headers.upgrade === undefined) return;
        const err = new PermissionDeniedError(
          'Origin: the API takes no WebSocket from a web page; use the dashboard listener',
        );
        return reply.code(httpStatus(err)).send(errorBody(err));
      });
    }
    if (token !== undefined) {
      const want = Buffer.from(`Bearer ${token}`);
      app.addHook('onRequest', async (req, reply) => {
        const got = Buffer.from(req.headers.authorization ?? '');
        if (got.length !== want.length || !timingSafeEqual(got, want)) {
          const err = new UnauthenticatedError('missing or wrong bearer token');
          reply.code(httpStatus(err)).header('www-authenticate', 'Bearer').send(errorBody(err));
        }
      });
    }
    app.setErrorHandler((err, req, reply) => {
      const code = errorCode(err) ?? (isFastifyClientError(err) ? 'InvalidArgument' : 'Internal');
      const status = code === 'InvalidArgument' && !errorCode(err) ? 400 : httpStatus(err);
      if (status >= 500) this.logger.error({ err, url: req.url }, 'api request failed');
      reply.code(status).send(errorBody(err, code));
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).send(errorBody(new Error(`no API route ${req.method} ${req.url}`), 'NotFound'));
    });
    registerSystemRoutes(app, this.deps, this.info, this.logger);
    registerContainerRoutes(app, this.deps, this.logger);
    registerExecRoutes(app, this.deps);
    registerVolumeRoutes(app, this.deps);
    registerImageRoutes(app, this.deps);
    registerProjectRoutes(app, this.deps);
    registerDashboardRoutes(app, this.deps);
    registerNetworkRoutes(app, this.deps);
    registerStreamRoutes(app, this.deps, this.logger);
    registerDashboardLoginRoute(app, this.deps);
    registerOpenApiRoute(app, routes, dashboard ? 'berth dashboard' : 'berth agent API');
    await app.ready();
    return app;
  }

  /** How `POST /v1/dashboard/login` mints a login URL, once the dashboard listens (src/agent/dashboard.ts). */
  setDashboardLogin(mint: ApiDeps['dashboardLogin']): void {
    this.deps.dashboardLogin = mint;
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
    // Refused or missing: nobody answers there, which is the answer, not a failure.
    s.once('error', () => resolve(false));
  });
  if (live) {
    throw new FailedPreconditionError(
      `socket: another process is listening on ${path} (is a berth agent running already?)`,
    );
  }
  await rm(path, { force: true });
}
