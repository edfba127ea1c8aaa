import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { fromWire, UnavailableError } from '../common/errors.js';

export const DEFAULT_SOCKET = '/run/berth/berth.sock';

export interface ClientOptions {
  /** Unix socket (default: BERTH_SOCKET or /run/berth/berth.sock). */
  socketPath?: string;
  /** `tcp://host:port` (BERTH_HOST); needs a token (BERTH_TOKEN). */
  host?: string;
  token?: string;
}

export function clientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClientOptions {
  return {
    socketPath: env.BERTH_SOCKET || DEFAULT_SOCKET,
    ...(env.BERTH_HOST ? { host: env.BERTH_HOST } : {}),
    ...(env.BERTH_TOKEN ? { token: env.BERTH_TOKEN } : {}),
  };
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
    return new Promise((resolve, reject) => {
      // servername: '' spares the agent a TLS server-name guess for plain HTTP: node computes it with
      // net.isIP, whose IPv6 regex costs a cold CLI process about 8 ms to compile.
      const options: RequestOptions & { servername: string } = {
        ...target,
        method,
        path: fullPath,
        headers,
        ...(opts.signal ? { signal: opts.signal } : {}),
        servername: '',
      };
      const req = httpRequest(options, resolve);
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
    const url = t.socketPath ? `ws+unix://${t.socketPath}:${path}` : `ws://${t.host}:${t.port}${path}`;
    const headers: Record<string, string> = this.opts.token
      ? { authorization: `Bearer ${this.opts.token}` }
      : {};
    const ws = new WebSocket(url, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        void readAll(res).then((text) => reject(toError(res.statusCode ?? 500, text)), reject);
      });
      ws.once('error', (err: NodeJS.ErrnoException) => reject(unreachable(t, err)));
    });
    return ws;
  }

  private target(): { socketPath?: string; host?: string; port?: number } {
    if (this.opts.host) {
      const u = new URL(this.opts.host.replace(/^tcp:/, 'http:'));
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
