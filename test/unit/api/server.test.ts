import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';

/** The API edge only: a runtime that knows no containers and rejects every create. */
const emptyRuntime = new Proxy({} as Runtime, {
  get(_t, prop) {
    if (prop === 'list' || prop === 'images') return async () => [];
    if (prop === 'create')
      return async () => {
        throw new InvalidArgumentError('memory: must be a size like 64m, got "lots"', { field: 'memory' });
      };
    return async (id: string) => {
      throw new NotFoundError(`no such container: ${id}`);
    };
  },
});

function call(
  target: { socketPath?: string; port?: number },
  method: string,
  path: string,
  opts: { body?: unknown; token?: string } = {},
) {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ ...target, host: '127.0.0.1', method, path, headers }, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: s ? JSON.parse(s) : {} }));
    });
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

describe('API server', () => {
  let dir: string;
  let server: ApiServer;
  let socketPath: string;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
    socketPath = join(dir, 'run', 'berth.sock');
    server = new ApiServer(
      { runtime: emptyRuntime, events: new EventExchange<RuntimeEvent>() },
      silentLogger(),
      () => ({ endpoints: {} }),
    );
    await server.listen({ socketPath, tcp: { host: '127.0.0.1', port: 0, token: 's3cret' } });
    port = server.tcpAddress?.port ?? 0;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on a unix socket only root (and its group) may open', async () => {
    const st = await stat(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    const r = await call({ socketPath }, 'GET', '/v1/version');
    assert.equal(r.status, 200);
    assert.equal(r.body.api, 'v1');
  });

  it('refuses TCP requests without the right bearer token', async () => {
    assert.equal((await call({ port }, 'GET', '/v1/containers')).status, 401);
    assert.equal((await call({ port }, 'GET', '/v1/containers', { token: 'wrong' })).status, 401);
    const ok = await call({ port }, 'GET', '/v1/containers', { token: 's3cret' });
    assert.equal(ok.status, 200);
  });

  it('refuses WebSocket upgrades (exec, events) over TCP without the token too', async () => {
    const { WebSocket } = await import('ws');
    const status = (path: string, token?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('open', () => {
          resolve(101);
          ws.close();
        });
        ws.once('error', () => undefined);
      });
    assert.equal(await status('/v1/containers/web/exec/ws'), 401);
    assert.equal(await status('/v1/ws/events', 'wrong'), 401);
    assert.equal(await status('/v1/ws/events', 's3cret'), 101);
  });

  it('refuses to open a TCP listener without a token', async () => {
    const s = new ApiServer({ runtime: emptyRuntime, events: new EventExchange() }, silentLogger(), () => ({
      endpoints: {},
    }));
    await assert.rejects(
      s.listen({ socketPath: join(dir, 'other.sock'), tcp: { host: '127.0.0.1', port: 0, token: '' } }),
      /TCP listener needs a token/,
    );
  });

  it('turns typed errors into their status with code, message and field', async () => {
    const nf = await call({ socketPath }, 'GET', '/v1/containers/web');
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.body, { error: { code: 'NotFound', message: 'no such container: web' } });
    const bad = await call({ socketPath }, 'POST', '/v1/containers', {
      body: { image: 'busybox', memory: 'lots' },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      error: {
        code: 'InvalidArgument',
        message: 'memory: must be a size like 64m, got "lots"',
        field: 'memory',
      },
    });
    const route = await call({ socketPath }, 'GET', '/v1/nothing');
    assert.equal(route.status, 404);
    assert.match(String((route.body.error as { message: string }).message), /no API route GET \/v1\/nothing/);
  });
});
