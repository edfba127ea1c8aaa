import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { fromWire, InvalidArgumentError, messageOf, UnavailableError } from '../../runtime/base/errors.js';

// node:http through process.getBuiltinModule, not an ESM import: importing the
// module namespace reads its lazy WebSocket/CloseEvent/MessageEvent getters,
// which load undici, ~20 ms of every `berth run` on Node 24 (3 ms this way).
// node:https (tls, crypto: ~5 ms more) only when the API is reached over TLS.
const { request: httpRequest } = process.getBuiltinModule('node:http');
const httpsRequest = (options: RequestOptions, cb: (res: IncomingMessage) => void) =>
  process.getBuiltinModule('node:https').request(options, cb);

export const DEFAULT_SOCKET = '/run/berth/berth.sock';

export interface ClientOptions {
  /** Unix socket (default: BERTH_SOCKET or /run/berth/berth.sock). */
  socketPath?: string;
  /** `tcp://host:port` (BERTH_HOST); needs a token (BERTH_TOKEN). */
  host?: string;
  token?: string;
  /**
   * TLS to the TCP API (`BERTH_TLS=1`, or any of the files set, or an
   * `https://` host): `caFile` verifies the agent (system roots otherwise);
   * `certFile` and `keyFile` are this client's certificate for mutual TLS.
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export function clientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClientOptions {
  const files = {
    ...(env.BERTH_TLS_CA ? { caFile: env.BERTH_TLS_CA } : {}),
    ...(env.BERTH_TLS_CERT ? { certFile: env.BERTH_TLS_CERT } : {}),
    ...(env.BERTH_TLS_KEY ? { keyFile: env.BERTH_TLS_KEY } : {}),
  };
  const tls = env.BERTH_TLS === '1' || Object.keys(files).length > 0 || /^https:/.test(env.BERTH_HOST ?? '');
  return {
    socketPath: env.BERTH_SOCKET || DEFAULT_SOCKET,
    ...(env.BERTH_HOST ? { host: env.BERTH_HOST } : {}),
    ...(env.BERTH_TOKEN ? { token: env.BERTH_TOKEN } : {}),
    ...(tls ? { tls: files } : {}),
  };
}

/** The PEM files of `tls` read once; a missing one names its variable. */
function tlsMaterial(tls: NonNullable<ClientOptions['tls']>): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (file: string | undefined, name: string): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: cannot read ${file}: ${messageOf(err)}`, { field: name });
    }
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new InvalidArgumentError('BERTH_TLS_CERT and BERTH_TLS_KEY go together (mutual TLS)', {
      field: tls.certFile ? 'BERTH_TLS_KEY' : 'BERTH_TLS_CERT',
    });
  }
  const ca = read(tls.caFile, 'BERTH_TLS_CA');
  const cert = read(tls.certFile, 'BERTH_TLS_CERT');
  const key = read(tls.keyFile, 'BERTH_TLS_KEY');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

type Query = Record<string, string | number | boolean | undefined | string[]>;

/**
 * The CLI's client for the agent API: JSON in and out, NDJSON streams, and
 * API errors turned back into typed berth errors.
 */
export class ApiClient {
  constructor(private readonly opts: ClientOptions = clientOptionsFromEnv()) {}

  async json<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await readAll(res);
    if ((res.statusCode ?? 500) >= 400) throw toError(res.statusCode ?? 500, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** An NDJSON stream: yields each parsed line. */
  async *stream<T>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
  ): AsyncGenerator<T> {
    const res = await this.send(method, path, opts);
    if ((res.statusCode ?? 500) >= 400) throw toError(res.statusCode ?? 500, await readAll(res));
    let buf = '';
    for await (const chunk of res) {
      buf += String(chunk);
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
        nl = buf.indexOf('\n');
      }
    }
  }

  /** Sends a request; `body` may be a readable stream (tar uploads). */
  send(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; signal?: AbortSignal; contentType?: string } = {},
  ): Promise<IncomingMessage> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined || v === false) continue;
      for (const item of [v].flat()) qs.append(k, item === true ? '1' : String(item));
    }
    const fullPath = qs.size ? `${path}?${qs}` : path;
    const isStream =
      opts.body !== undefined && typeof (opts.body as NodeJS.ReadableStream).pipe === 'function';
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let payload: string | undefined;
    if (isStream) headers['content-type'] = opts.contentType ?? 'application/x-tar';
    else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const target = this.target();
    const tls = this.tls();
    return new Promise((resolve, reject) => {
      // servername: '' spares the agent a TLS server-name guess for plain HTTP: node computes it with
      // net.isIP, whose IPv6 regex costs a cold CLI process about 8 ms to compile.
      const options: RequestOptions & { servername?: string } = {
        ...target,
        method,
        path: fullPath,
        headers,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(tls ? tls : { servername: '' }),
      };
      const req = tls ? httpsRequest(options, resolve) : httpRequest(options, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(target, err)));
      if (isStream) (opts.body as NodeJS.ReadableStream).pipe(req);
      else req.end(payload);
    });
  }

  /**
   * Opens a WebSocket to the agent (`ws+unix:` on the socket, `ws:` with the
   * bearer token over TCP). `ws` is loaded here, so only the verbs that use a
   * WebSocket pay for it.
   */
  async websocket(path: string): Promise<import('ws').WebSocket> {
    const { WebSocket } = await import('ws');
    const t = this.target();
    const tls = this.tls();
    const url = t.socketPath
      ? `ws+unix://${t.socketPath}:${path}`
      : `${tls ? 'wss' : 'ws'}://${t.host}:${t.port}${path}`;
    const headers: Record<string, string> = this.opts.token
      ? { authorization: `Bearer ${this.opts.token}` }
      : {};
    const ws = new WebSocket(url, { headers, ...(tls ?? {}) });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        void readAll(res).then((text) => reject(toError(res.statusCode ?? 500, text)), reject);
      });
      ws.once('error', (err: NodeJS.ErrnoException) => reject(unreachable(t, err)));
    });
    return ws;
  }

  /** TLS options for a TCP target, or undefined (the unix socket, or plain TCP). */
  private tls(): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
    if (!this.opts.host || !this.opts.tls) return undefined;
    this.tlsCache ??= tlsMaterial(this.opts.tls);
    return this.tlsCache;
  }
  private tlsCache: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;

  private target(): { socketPath?: string; host?: string; port?: number } {
    if (this.opts.host) {
      const u = new URL(this.opts.host.replace(/^(tcp|https):/, 'http:'));
      return { host: u.hostname, port: Number(u.port || 2375) };
    }
    return { socketPath: this.opts.socketPath ?? DEFAULT_SOCKET };
  }
}

/** A connection error, said as "the agent is not there" when that is what it means. */
function unreachable(
  t: { socketPath?: string; host?: string; port?: number },
  err: NodeJS.ErrnoException,
): Error {
  if (err.code !== 'ENOENT' && err.code !== 'ECONNREFUSED' && err.code !== 'EACCES') return err;
  const where = t.socketPath ?? `${t.host}:${t.port}`;
  return new UnavailableError(
    `cannot reach the berth agent at ${where} (${err.code}); is \`berth agent\` running? (set BERTH_SOCKET or BERTH_HOST)`,
    { cause: err },
  );
}

async function readAll(res: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of res) s += String(c);
  return s;
}

function toError(status: number, text: string): Error {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return fromWire(body.error.code ?? 'Internal', body.error.message);
  } catch {
    // not JSON
  }
  return fromWire('Internal', `agent answered ${status}: ${text.slice(0, 200)}`);
}
