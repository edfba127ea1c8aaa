import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import {
  BerthError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from '../base/errors.js';
import { parseChallenge } from './www-authenticate.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** host[:port] the API is served on. */
  host: string;
  /** `https` unless the registry is opted in to plain http. */
  scheme: 'https' | 'http';
  /** Opted-in insecure registry: https without verification first, then plain http (as Docker does). */
  insecure?: boolean;
  /** PEM CA bundle to verify the registry's certificate with (replaces the system roots for this host). */
  ca?: Buffer;
  credentials?: Credentials;
  timeoutMs?: number;
  userAgent?: string;
}

const MAX_REDIRECTS = 5;

/**
 * Token realms on another host that may receive a registry's credentials:
 * Docker Hub's registry sends its clients to auth.docker.io. Any other
 * realm must be on the registry's own host name.
 */
const TOKEN_REALM_HOSTS: Record<string, string[]> = {
  'registry-1.docker.io': ['auth.docker.io'],
};

/**
 * A Docker Registry HTTP API v2 client over node:http/https (node:https takes
 * a per-request CA without an extra dependency, and response streams flow
 * straight into the layer unpacker). Handles Bearer token auth (anonymous or
 * with basic credentials), Basic auth and redirects to blob storage
 * (credentials are not forwarded to another host).
 */
export class RegistryClient {
  private scheme: 'https' | 'http';
  private readonly tokens = new Map<string, string>();
  private useBasic = false;

  constructor(private readonly o: RegistryClientOptions) {
    this.scheme = o.scheme;
  }

  get baseUrl(): string {
    return `${this.scheme}://${this.o.host}`;
  }

  /** GET a v2 API path; resolves with a 2xx response (the caller consumes the body). */
  async get(path: string, opts: { accept?: string[]; scope: string }): Promise<IncomingMessage> {
    let res: IncomingMessage;
    try {
      res = await this.send(path, opts);
    } catch (err) {
      if (!(this.o.insecure && this.scheme === 'https') || err instanceof BerthError) throw err;
      // An opted-in insecure registry that does not speak TLS: plain http from now on.
      this.scheme = 'http';
      res = await this.send(path, opts);
    }
    if (res.statusCode === 401) {
      const challenge = parseChallenge(header(res, 'www-authenticate'));
      res.resume();
      if (challenge?.scheme === 'bearer') {
        this.tokens.set(opts.scope, await this.fetchToken(challenge.params, opts.scope));
      } else if (challenge?.scheme === 'basic') {
        if (!this.o.credentials) {
          throw new FailedPreconditionError(
            `registry ${this.o.host}: authentication required (give a username and password)`,
          );
        }
        this.useBasic = true;
      } else {
        throw new FailedPreconditionError(
          `registry ${this.o.host}: authentication required with an unsupported scheme`,
        );
      }
      res = await this.send(path, opts);
    }
    if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await statusError(res, this.o.host, path);
  }

  private authHeader(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token) return `Bearer ${token}`;
    if (this.useBasic && this.o.credentials) return basic(this.o.credentials);
    return undefined;
  }

  private async send(path: string, opts: { accept?: string[]; scope: string }): Promise<IncomingMessage> {
    let url = new URL(path, this.baseUrl);
    const origin = url.origin;
    for (let i = 0; i <= MAX_REDIRECTS; i++) {
      const headers: Record<string, string> = { 'user-agent': this.o.userAgent ?? 'berth' };
      if (opts.accept) headers.accept = opts.accept.join(', ');
      const auth = url.origin === origin ? this.authHeader(opts.scope) : undefined;
      if (auth) headers.authorization = auth;
      const res = await this.request(url, headers, url.origin === origin);
      const loc = header(res, 'location');
      if (res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && loc) {
        res.resume();
        url = new URL(loc, url);
        continue;
      }
      return res;
    }
    throw new UnavailableError(`registry ${this.o.host}: too many redirects for ${path}`);
  }

  private request(url: URL, headers: Record<string, string>, sameHost: boolean): Promise<IncomingMessage> {
    const timeout = this.o.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const tls = url.protocol === 'https:';
      const opts: https.RequestOptions = { method: 'GET', headers, timeout };
      if (tls && sameHost) {
        if (this.o.ca) opts.ca = this.o.ca;
        if (this.o.insecure) opts.rejectUnauthorized = false;
      }
      const req = (tls ? https : http).request(url, opts, (res) => {
        res.setTimeout(timeout, () =>
          res.destroy(new UnavailableError(`registry ${this.o.host}: read timed out`)),
        );
        resolve(res);
      });
      req.on('timeout', () =>
        req.destroy(new UnavailableError(`registry ${this.o.host}: no response in ${timeout} ms`)),
      );
      req.on('error', (err) => {
        if (err instanceof BerthError) reject(err);
        else if (tls && this.o.insecure) reject(err);
        else
          reject(
            new UnavailableError(`registry ${this.o.host}: ${url.protocol}//${url.host}: ${err.message}`, {
              cause: err,
            }),
          );
      });
      req.end();
    });
  }

  /**
   * Credentials go to a token realm only on the registry's own host name (or
   * a known alias, TOKEN_REALM_HOSTS) and only over https, unless the registry
   * itself was opted in to plain http (insecureRegistries) and the realm is on
   * its host: a challenge cannot send them to a third party or in clear text.
   */
  private checkRealmForCredentials(url: URL, sameHost: boolean, ownName: string): void {
    const realm = `${url.origin}${url.pathname}`;
    if (!sameHost && !(TOKEN_REALM_HOSTS[ownName] ?? []).includes(url.hostname)) {
      throw new FailedPreconditionError(
        `registry ${this.o.host}: token realm ${realm} is on another host (${url.hostname}); credentials are sent only to the registry's own host`,
      );
    }
    if (url.protocol !== 'https:' && !(this.o.insecure && sameHost)) {
      throw new FailedPreconditionError(
        `registry ${this.o.host}: token realm ${realm} is plain http; credentials are sent to a token realm only over https (or on the registry's own host when it is in insecureRegistries)`,
      );
    }
  }

  private async fetchToken(params: Record<string, string>, scope: string): Promise<string> {
    const realm = params.realm;
    if (!realm)
      throw new FailedPreconditionError(`registry ${this.o.host}: Bearer challenge without a realm`);
    const url = new URL(realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const headers: Record<string, string> = { 'user-agent': this.o.userAgent ?? 'berth' };
    const ownName = new URL(`https://${this.o.host}`).hostname;
    const sameHost = url.hostname === ownName;
    if (this.o.credentials) {
      this.checkRealmForCredentials(url, sameHost, ownName);
      headers.authorization = basic(this.o.credentials);
    }
    const res = await this.request(url, headers, sameHost);
    const body = await readBody(res, 1 << 20);
    if (res.statusCode !== 200) {
      throw new FailedPreconditionError(
        `registry ${this.o.host}: token service ${url.origin} refused (${res.statusCode}): ${body.toString('utf8').slice(0, 200)}`,
      );
    }
    const json = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) throw new FailedPreconditionError(`registry ${this.o.host}: token service returned no token`);
    return token;
  }
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new InvalidArgumentError(`registry response larger than ${limit} bytes`, { field: 'registry' });
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function statusError(res: IncomingMessage, host: string, path: string): Promise<Error> {
  let detail = '';
  try {
    const body = (await readBody(res, 64 * 1024)).toString('utf8');
    const j = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
    detail = (j.errors ?? []).map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
  } catch {
    // Not a registry error document; the status says enough.
  }
  const msg = `registry ${host}: GET ${path}: ${res.statusCode}${detail ? ` (${detail})` : ''}`;
  const s = res.statusCode ?? 0;
  if (s === 404) return new NotFoundError(msg);
  if (s === 401 || s === 403)
    return new FailedPreconditionError(`${msg}: access denied; check the credentials`);
  if (s === 429 || s >= 500) return new UnavailableError(msg);
  return new InvalidArgumentError(msg, { field: 'image' });
}
