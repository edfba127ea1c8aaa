import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLoopbackHost } from '../../runtime/base/address.js';
import {
  httpStatus,
  InvalidArgumentError,
  messageOf,
  PermissionDeniedError,
  UnauthenticatedError,
} from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { bodiless, documented, errorBody, NoContent, NoQuery, responses } from './schemas.js';
import type { ApiServer, TlsMaterial } from './server.js';
import { DashboardSessions, keyFromProtocols, type Session } from './session.js';
import { SessionSockets } from './session-sockets.js';

export const SESSION_COOKIE = 'berth_session';
/** The session key on every API request of the page (on a WebSocket: the `berth.session.<key>` protocol). */
export const KEY_HEADER = 'x-berth-session-key';
/** Where the login redirect hands the page its key: `/#k=<key>` (a fragment never reaches a server). */
export const KEY_FRAGMENT = 'k';

/** Sent with every answer of the dashboard listener (src/api/README.md says why each). */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface DashboardListenOptions {
  host: string;
  port: number;
  /** More names the browser may use in Host (dashboard.hosts). */
  hosts: string[];
  loginTtlMs: number;
  sessionTtlMs: number;
  /** The built page (index.html, app.js, app.css, …). */
  webDir: string;
  /** The API's TLS material: the dashboard then serves https and the cookie is Secure. */
  tls?: TlsMaterial;
}

/** `dist/web` of berth's install: from src/api here, or dist/src/api compiled. */
export function defaultWebDir(): string {
  let dir = import.meta.dirname;
  while (dir !== dirname(dir)) {
    if (dir.endsWith(`${sep}src`) || dir.endsWith(`${sep}dist${sep}src`)) break;
    dir = dirname(dir);
  }
  const root = dir.endsWith(`${sep}dist${sep}src`) ? dirname(dirname(dir)) : dirname(dir);
  return join(root, 'dist', 'web');
}

/**
 * The dashboard listener: the built page and the same /v1 routes as the
 * API, behind a session obtained with a one-time login URL; every request's
 * Host and Origin checked, and every API request's session key besides the
 * cookie (src/api/README.md, "The dashboard listener").
 */
export class DashboardServer {
  private app: FastifyInstance | undefined;
  private sessions: DashboardSessions | undefined;
  private sockets: SessionSockets<Session> | undefined;
  private readonly hosts = new Set<string>();
  private readonly origins = new Set<string>();
  private base = '';
  private secure = false;
  private webDir = '';

  constructor(
    private readonly api: ApiServer,
    private readonly logger: Logger,
  ) {}

  async listen(opts: DashboardListenOptions): Promise<void> {
    const live = new DashboardSessions({ loginTtlMs: opts.loginTtlMs, sessionTtlMs: opts.sessionTtlMs });
    this.sessions = live;
    this.sockets = new SessionSockets((s) => live.isLive(s));
    this.secure = opts.tls !== undefined;
    this.webDir = resolve(opts.webDir);
    const app = await this.api.build(undefined, opts.tls, undefined, (a) => this.install(a));
    try {
      await app.listen({ host: opts.host, port: opts.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    this.app = app;
    this.sockets?.start();
    const addr = app.server.address();
    const port = addr && typeof addr === 'object' ? addr.port : opts.port;
    const scheme = this.secure ? 'https' : 'http';
    const hostPort = (h: string) => (/:\d+$/.test(h) && !h.startsWith('[') ? h : `${bracket(h)}:${port}`);
    const names = [
      ...opts.hosts.map(hostPort),
      ...(opts.host === '0.0.0.0' || opts.host === '::' ? [] : [hostPort(opts.host)]),
      ...(isLoopbackHost(opts.host) ? [`localhost:${port}`] : []),
    ];
    for (const n of names) {
      this.hosts.add(n.toLowerCase());
      this.origins.add(`${scheme}://${n.toLowerCase()}`);
    }
    this.base = `${scheme}://${names[0]}`;
  }

  /** Where the dashboard is (`http://127.0.0.1:7080/`). */
  url(): string {
    return `${this.base}/`;
  }

  /** A fresh one-time login URL (`berth dashboard-url`, and the one printed at start). */
  loginUrl(): { url: string; expiresAt: string } {
    if (!this.sessions) throw new Error('dashboard: not listening');
    const { token, expiresAt } = this.sessions.issueLogin();
    return { url: `${this.base}/login?token=${token}`, expiresAt: new Date(expiresAt).toISOString() };
  }

  async close(): Promise<void> {
    this.sockets?.stop();
    await this.app?.close();
    this.app = undefined;
  }

  /** The checks and pages, installed before the API routes (ApiServer.build). */
  private install(app: FastifyInstance): void {
    app.addHook('onSend', async (_req, reply, payload) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      return payload;
    });
    app.addHook('onRequest', async (req, reply) => {
      const refused = this.check(req);
      if (!refused) return;
      if (refused instanceof UnauthenticatedError && isPage(req)) {
        return reply.code(401).type('text/html; charset=utf-8').send(LOGIN_PAGE);
      }
      return reply.code(httpStatus(refused)).send(errorBody(refused));
    });

    app.get<{ Querystring: { token?: string } }>(
      '/login',
      {
        schema: documented({
          querystring: Type.Object({ token: Type.Optional(Type.String()) }),
          description:
            'exchanges a one-time login token for a session cookie, then redirects to /#k=<session key> (the page keeps the key and sends it on every API request)',
          response: responses({
            302: Type.Null({ description: 'to /#k=<session key>, with the session cookie' }),
          }),
        }),
      },
      async (req, reply) => {
        const s = this.sessions?.login(req.query.token ?? '');
        if (!s) {
          this.logger.warn({ ip: req.ip }, 'dashboard: refused a used, unknown or expired login token');
          return reply.code(401).type('text/html; charset=utf-8').send(EXPIRED_PAGE);
        }
        this.logger.info({ ip: req.ip }, 'dashboard: logged in');
        const maxAge = Math.round((s.session.expiresAt - Date.now()) / 1000);
        reply.header('set-cookie', this.cookie(s.id, maxAge));
        reply.header('cache-control', 'no-store');
        // The key's one hand-off: a fragment stays in the browser (never sent, never in a server's log).
        return reply.redirect(`/#${KEY_FRAGMENT}=${s.key}`, 302);
      },
    );
    app.get(
      '/session',
      {
        schema: documented({
          querystring: NoQuery,
          description:
            'the session the cookie and key name: 200 while it lives (the page checks its key here)',
          response: responses({ 200: Type.Object({ expiresAt: Type.String() }) }),
        }),
      },
      async (req, reply) => {
        const s = sessionOf(req);
        reply.header('cache-control', 'no-store');
        return { expiresAt: new Date(s.expiresAt).toISOString() };
      },
    );
    app.post(
      '/logout',
      bodiless({ querystring: NoQuery, response: responses({ 204: NoContent }) }),
      async (req, reply) => {
        const id = cookieOf(req, SESSION_COOKIE);
        const ended = id ? this.sessions?.end(id) : undefined;
        // Its streams (and any exec) end with it, in this tab and every other.
        if (ended) this.sockets?.close(ended);
        reply.header('set-cookie', this.cookie('', 0));
        reply.code(204);
      },
    );
    const page = {
      schema: documented({
        querystring: Type.Object({}),
        description: 'the built page (dist/web)',
        response: responses({ 200: Type.String({ description: 'a file of the page' }) }),
      }),
    };
    app.get('/', page, async (_req, reply) => this.file('index.html', reply));
    app.get<{ Params: { '*': string } }>(
      '/*',
      { schema: { ...page.schema, params: Type.Object({ '*': Type.String() }) } },
      async (req, reply) => this.file(req.params['*'], reply),
    );
  }

  /** The refusal for `req`, in the order the README gives, or undefined when it may go on. */
  private check(req: FastifyRequest): Error | undefined {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.hosts.has(host)) {
      return new PermissionDeniedError(
        `Host: ${JSON.stringify(host)} is not this dashboard's address (a guard against DNS rebinding); open ${this.url()}`,
      );
    }
    const origin = req.headers.origin;
    const upgrade = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if ((origin !== undefined || upgrade) && !this.origins.has((origin ?? '').toLowerCase())) {
      return new PermissionDeniedError(
        `Origin: ${JSON.stringify(origin ?? '')} is not this dashboard's origin${upgrade ? ' (required on a WebSocket)' : ''}`,
      );
    }
    // By the route Fastify matched, not the raw URL: the router decodes (`/%761/…` is `/v1/…`).
    const route = routeOf(req);
    if (route === '/login') return undefined;
    const session = this.sessions?.get(cookieOf(req, SESSION_COOKIE));
    if (!session) {
      return new UnauthenticatedError(
        'dashboard: no session: open the login URL the agent printed, or run `berth dashboard-url` for a new one',
      );
    }
    // The page and its files hold nothing: the cookie alone loads them. Everything else (the API,
    // WebSockets, the session's own routes, any other method) needs the key, which a replayed cookie
    // does not give (README, "Threat model").
    if (!isPage(req)) {
      const header = req.headers[KEY_HEADER];
      const given =
        typeof header === 'string'
          ? header
          : upgrade
            ? keyFromProtocols(req.headers['sec-websocket-protocol'])
            : undefined;
      if (!DashboardSessions.keyMatches(session, given)) {
        return new UnauthenticatedError(
          `dashboard: ${given === undefined ? 'no' : 'a wrong'} session key (${KEY_HEADER}, or the berth.session.<key> WebSocket protocol): the page keeps the key its login link gave it; run \`berth dashboard-url\` for a new login link`,
        );
      }
    }
    if (route === '/v1/dashboard/login') {
      return new PermissionDeniedError(
        'dashboard: login URLs are made over the API socket (berth dashboard-url)',
      );
    }
    sessions.set(req, session);
    if (upgrade) this.sockets?.add(session, req.raw.socket);
    return undefined;
  }

  private cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${this.secure ? '; Secure' : ''}`;
  }

  private async file(rel: string, reply: FastifyReply): Promise<unknown> {
    let name: string;
    try {
      name = decodeURIComponent(rel);
    } catch {
      throw new InvalidArgumentError('path: not a valid URL path', { field: 'path' });
    }
    // No hidden files, no way out of webDir.
    const path = resolve(this.webDir, name);
    if (!path.startsWith(this.webDir + sep) || name.split('/').some((p) => p.startsWith('.'))) {
      return reply.code(404).send(errorBody(new Error(`no file ${rel}`), 'NotFound'));
    }
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      if (name === 'index.html') {
        this.logger.warn({ webDir: this.webDir, err: messageOf(err) }, 'dashboard: the page is not built');
        return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
      }
      return reply.code(404).send(errorBody(new Error(`no file ${rel}`), 'NotFound'));
    }
    reply.header('cache-control', 'no-cache');
    return reply.type(CONTENT_TYPES[extname(path)] ?? 'application/octet-stream').send(body);
  }
}

const sessions = new WeakMap<FastifyRequest, Session>();

/** The route Fastify matched (its pattern), or undefined when none did (the not-found answer). */
function routeOf(req: FastifyRequest): string | undefined {
  return req.routeOptions.url;
}

/**
 * The page or one of its files (the `/` and `/*` routes): all the cookie alone
 * may load. Decided by the matched route, so no spelling of a URL reaches an
 * API route as a page; a URL no route matched needs the key too.
 */
function isPage(req: FastifyRequest): boolean {
  const route = routeOf(req);
  return (req.method === 'GET' || req.method === 'HEAD') && (route === '/' || route === '/*');
}

/** The session the onRequest hook found (every route but /login runs after it). */
function sessionOf(req: FastifyRequest): Session {
  const s = sessions.get(req);
  if (!s) throw new UnauthenticatedError('dashboard: no session');
  return s;
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>berth: ${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
const LOGIN_PAGE = page(
  'Log in to the berth dashboard',
  '<p>Open the login URL the agent printed when it started, or run <code>berth dashboard-url</code> on the host for a new one.</p>',
);
const EXPIRED_PAGE = page(
  'This login link was used or has expired',
  '<p>A login link works once, for a short while. Run <code>berth dashboard-url</code> on the host for a new one.</p>',
);
const NOT_BUILT_PAGE = page(
  'The dashboard page is not built',
  '<p>Run <code>npm run build:web</code> (or <code>npm start</code>, which does) and reload.</p>',
);
