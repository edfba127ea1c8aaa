import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { freePort } from '../../harness/ports.js';

/** A loopback HTTP server standing in for one container instance: answers 200 with its name. */
export interface Backend {
  name: string;
  address: string;
  port: number;
  hits: number;
  /** Request paths as received (the last 1000), health checks included. */
  paths: string[];
  close(): Promise<void>;
}

export async function startBackend(
  name: string,
  address: string,
  opts: { delayMs?: number } = {},
): Promise<Backend> {
  const port = await freePort(address);
  const b: Backend = { name, address, port, hits: 0, paths: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    b.hits++;
    b.paths.push(req.url ?? '');
    if (b.paths.length > 1000) b.paths.shift();
    const reply = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${name}\n`);
    };
    if (req.url === '/slow' && opts.delayMs !== undefined) setTimeout(reply, opts.delayMs);
    else reply();
  });
  server.listen(port, address);
  await once(server, 'listening');
  b.close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  };
  return b;
}

/** One GET; status and body (status 0 when the connection failed). */
export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  raw: string;
}

/** Parses wrk's text summary. */
export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in/),
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: {
      connect: Number(se?.[1] ?? 0),
      read: Number(se?.[2] ?? 0),
      write: Number(se?.[3] ?? 0),
      timeout: Number(se?.[4] ?? 0),
    },
    raw: text,
  };
}

export const socketErrorCount = (r: WrkResult): number =>
  r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;

/** Runs wrk (Debian) against `url` for `seconds`; asynchronous, so the in-process backends keep serving. */
export function runWrk(
  url: string,
  opts: { seconds: number; connections?: number; close: boolean },
): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections ?? 8}`, `-d${opts.seconds}s`, '--timeout', '5s'];
  if (opts.close) args.push('-H', 'Connection: close');
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (opts.seconds + 15) * 1000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`wrk failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(parseWrk(stdout));
    });
  });
}

/**
 * The catalog entry of backend `b` behind HAProxy's port `lbPort`: service
 * `web` on node `test`, passing, unless `extra` says otherwise (its `meta`
 * is added to the port label).
 */
export function lbInstance(
  b: Backend,
  lbPort: number,
  extra: Partial<ServiceInstance> = {},
): ServiceInstance {
  return {
    id: `test:${b.name}:80`,
    service: 'web',
    tags: [],
    address: b.address,
    port: b.port,
    node: 'test',
    health: 'passing',
    ...extra,
    meta: { 'berth-lb-port': String(lbPort), ...extra.meta },
  };
}
