/**
 * The dashboard listener's checks (src/api/README.md, "The dashboard
 * listener") over real HTTP on loopback, with the API over a stand-in
 * runtime: the one-time login, the cookie and the session key (WebSocket
 * upgrades included), Host, Origin, the page and its files. The same against a real
 * agent and containers: test/integration/api/dashboard.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { validateConfig } from '../../../runtime/base/config.js';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { checkDashboardConfig, DASHBOARD_CONFIG } from '../../../src/api/dashboard-config.js';
import { DashboardServer } from '../../../src/api/dashboard-server.js';
import { ApiServer } from '../../../src/api/server.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http, not fetch: fetch will not send a Host header of our choosing. */
function http(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a WebSocket; resolves 'open' (with the protocol the server chose) or the HTTP status of the refused upgrade. */
function upgrade(
  url: string,
  headers: Record<string, string>,
  protocols: string[] = [],
): Promise<number | string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(`open${ws.protocol ? ` ${ws.protocol}` : ''}`);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe('dashboard listener', () => {
  let dir: string;
  let dash: DashboardServer;
  let api: ApiServer;
  let port: number;
  let host: string;
  const stopped: string[] = [];

  before(async () => {
    dir = await tempDir('dashboard-unit-');
    await mkdir(join(dir, 'web', 'assets'), { recursive: true });
    await writeFile(join(dir, 'web', 'index.html'), '<!doctype html><title>berth</title>');
    await writeFile(join(dir, 'web', 'app.js'), 'console.log("berth")');
    await writeFile(join(dir, 'web', 'assets', 'x.css'), 'body{}');
    await writeFile(join(dir, 'secret.txt'), 'not for the page');
    const runtime = {
      list: async () => [],
      stop: async (id: string) => {
        stopped.push(id);
        return { exitCode: 0, oomKilled: false };
      },
    } as unknown as Runtime;
    api = new ApiServer({ runtime, events: new EventExchange<RuntimeEvent>() }, silentLogger(), () => ({
      endpoints: {},
    }));
    dash = new DashboardServer(api, silentLogger());
    await dash.listen({
      host: '127.0.0.1',
      port: 0,
      hosts: [],
      loginTtlMs: 60_000,
      sessionTtlMs: 60_000,
      webDir: join(dir, 'web'),
    });
    port = Number(new URL(dash.url()).port);
    host = `127.0.0.1:${port}`;
  });
  after(async () => {
    await dash?.close();
    await removeDir(dir);
  });

  /** Logs in with a fresh one-time URL; the session cookie and the key the redirect's fragment hands the page. */
  async function login(): Promise<{ cookie: string; key: string }> {
    const { url } = dash.loginUrl();
    const r = await http(port, 'GET', new URL(url).pathname + new URL(url).search, { host });
    assert.equal(r.status, 302);
    const cookie = String(r.headers['set-cookie']).split(';')[0] ?? '';
    const key = /^\/#k=([A-Za-z0-9_-]{43})$/.exec(String(r.headers.location))?.[1];
    assert.ok(key, String(r.headers.location));
    return { cookie, key };
  }

  it('answers 401 without a session: ErrorBody for the API, a page saying how to log in for the rest', async () => {
    const a = await http(port, 'GET', '/v1/containers', { host });
    assert.equal(a.status, 401);
    assert.equal(JSON.parse(a.body).error.code, 'Unauthenticated');
    const p = await http(port, 'GET', '/', { host });
    assert.equal(p.status, 401);
    assert.match(p.body, /berth dashboard-url/);
    assert.equal((await http(port, 'GET', '/session', { host })).status, 401);
    assert.equal((await http(port, 'GET', '/app.js', { host })).status, 401);
  });

  it('takes a login URL once, within its time, and sets an HttpOnly SameSite=Strict cookie', async () => {
    const { url, expiresAt } = dash.loginUrl();
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/login\\?token=[A-Za-z0-9_-]{43}$`));
    assert.ok(Date.parse(expiresAt) > Date.now());
    const path = `/login${new URL(url).search}`;
    const r = await http(port, 'GET', path, { host });
    assert.equal(r.status, 302);
    assert.match(String(r.headers.location), /^\/#k=[A-Za-z0-9_-]{43}$/, 'the key, in a fragment');
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /^berth_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=60$/);
    assert.doesNotMatch(cookie, /Secure/, 'not over plain HTTP');
    const again = await http(port, 'GET', path, { host });
    assert.equal(again.status, 401, 'a login URL works once');
    assert.equal((await http(port, 'GET', '/login?token=made-up', { host })).status, 401);
    const page = await http(port, 'GET', '/', { host, cookie: cookie.split(';')[0] ?? '' });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>berth<\/title>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
  });

  it('serves the built files and nothing outside them', async () => {
    const { cookie } = await login();
    const js = await http(port, 'GET', '/app.js', { host, cookie });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal((await http(port, 'GET', '/assets/x.css', { host, cookie })).status, 200);
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/.hidden',
      '/nope.js',
    ]) {
      const r = await http(port, 'GET', p, { host, cookie });
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body, /not for the page/);
    }
  });

  it('needs the session key besides the cookie on every API request, GET included', async () => {
    const { cookie, key } = await login();
    for (const [method, path] of [
      ['POST', '/v1/containers/web/stop'],
      ['GET', '/v1/containers'],
      ['GET', '/session'],
      ['POST', '/logout'],
    ] as const) {
      const no = await http(port, method, path, { host, cookie });
      assert.equal(no.status, 401, `${method} ${path}`);
      assert.equal(JSON.parse(no.body).error.code, 'Unauthenticated');
      assert.match(JSON.parse(no.body).error.message, /no session key .*berth dashboard-url/);
      const wrong = await http(port, method, path, { host, cookie, 'x-berth-session-key': 'nope' });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong key`);
      assert.doesNotMatch(wrong.body, /nope/, 'a given key is not echoed');
    }
    // Decided by the route the router matched, not the URL's spelling: the router decodes.
    for (const spelled of ['/%761/containers', '/v1/%63ontainers', '/%73ession']) {
      const r = await http(port, 'GET', spelled, { host, cookie });
      assert.equal(r.status, 401, `${spelled}: ${r.body}`);
    }
    const oldCsrf = await http(port, 'POST', '/v1/containers/web/stop', {
      host,
      cookie,
      'x-berth-csrf': key,
    });
    assert.equal(oldCsrf.status, 401, 'the key goes in its own header');
    assert.deepEqual(stopped, [], 'refused before the runtime saw it');
    const withKey = { host, cookie, 'x-berth-session-key': key };
    const ok = await http(port, 'POST', '/v1/containers/web/stop', withKey);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(stopped, ['web']);
    assert.equal((await http(port, 'GET', '/v1/containers', withKey)).status, 200);
    const session = await http(port, 'GET', '/session', withKey);
    assert.equal(session.status, 200);
    assert.deepEqual(Object.keys(JSON.parse(session.body)), ['expiresAt'], 'nothing secret in /session');
    // The key alone is no good, nor another session's key with this cookie.
    assert.equal(
      (await http(port, 'GET', '/v1/containers', { host, 'x-berth-session-key': key })).status,
      401,
    );
    const other = await login();
    const cross = await http(port, 'GET', '/v1/containers', {
      host,
      cookie,
      'x-berth-session-key': other.key,
    });
    assert.equal(cross.status, 401);
    // The page and its files hold nothing: the cookie alone loads them.
    assert.equal((await http(port, 'GET', '/', { host, cookie })).status, 200);
    assert.equal((await http(port, 'GET', '/app.js', { host, cookie })).status, 200);
  });

  it('refuses a Host that is not its address (DNS rebinding) and a foreign Origin', async () => {
    const { cookie: c, key } = await login();
    const cookie = { cookie: c, 'x-berth-session-key': key };
    const rebound = await http(port, 'GET', '/v1/containers', { host: `evil.example:${port}`, ...cookie });
    assert.equal(rebound.status, 403);
    assert.match(
      JSON.parse(rebound.body).error.message,
      /^Host: "evil\.example:\d+" is not this dashboard's address/,
    );
    assert.equal(
      (await http(port, 'GET', '/', { host: '127.0.0.1:1', ...cookie })).status,
      403,
      'another port',
    );
    assert.equal(
      (await http(port, 'GET', '/v1/containers', { host: `localhost:${port}`, ...cookie })).status,
      200,
    );
    const foreign = await http(port, 'POST', '/v1/containers/web/stop', {
      host,
      ...cookie,
      origin: 'http://evil.example',
    });
    assert.equal(foreign.status, 403);
    assert.match(JSON.parse(foreign.body).error.message, /^Origin:/);
    const same = await http(port, 'GET', '/v1/containers', { host, ...cookie, origin: `http://${host}` });
    assert.equal(same.status, 200);
  });

  it('checks Origin on every WebSocket upgrade, the session and its key (a protocol entry, not echoed)', async () => {
    const { cookie, key } = await login();
    const url = `ws://${host}/v1/ws/events`;
    const origin = `http://${host}`;
    const offered = ['berth.session', `berth.session.${key}`];
    assert.equal(await upgrade(url, { cookie }, offered), 403, 'no Origin');
    assert.equal(await upgrade(url, { cookie, origin: 'http://evil.example' }, offered), 403);
    assert.equal(await upgrade(url, { origin }, offered), 401, 'no session');
    assert.equal(await upgrade(url, { cookie, origin }), 401, 'the cookie alone');
    assert.equal(await upgrade(url, { cookie, origin }, ['berth.session', 'berth.session.nope']), 401);
    assert.equal(await upgrade(url, { cookie, origin }, offered), 'open berth.session');
    // A client that offers only the key entry is answered with no protocol rather than its key.
    await assert.rejects(upgrade(url, { cookie, origin }, [`berth.session.${key}`]), /no subprotocol/);
    assert.equal(await upgrade(url, { cookie, origin, 'x-berth-session-key': key }), 'open', 'or the header');
  });

  it('says the dashboard is off when it does not listen', async () => {
    const off = new ApiServer(
      { runtime: {} as Runtime, events: new EventExchange<RuntimeEvent>() },
      silentLogger(),
      () => ({
        endpoints: {},
      }),
    );
    const app = await off.build(undefined);
    try {
      const r = await app.inject({ method: 'POST', url: '/v1/dashboard/login' });
      assert.equal(r.statusCode, 412);
      assert.match(r.json().error.message, /the dashboard is off \(--no-dashboard/);
    } finally {
      await app.close();
    }
  });

  it('does not mint login URLs for a session; the API socket does', async () => {
    const { cookie, key } = await login();
    const r = await http(port, 'POST', '/v1/dashboard/login', { host, cookie, 'x-berth-session-key': key });
    assert.equal(r.status, 403);
    const spelled = await http(port, 'POST', '/v1/dashboard/%6cogin', {
      host,
      cookie,
      'x-berth-session-key': key,
    });
    assert.equal(spelled.status, 403, spelled.body);
    const app = await api.build(undefined);
    try {
      api.setDashboardLogin(() => dash.loginUrl());
      const minted = await app.inject({ method: 'POST', url: '/v1/dashboard/login' });
      assert.equal(minted.statusCode, 200);
      assert.match(minted.json().url, /\/login\?token=/);
      // The API listeners take no WebSocket from a page.
      const fromPage = await app.inject({
        url: '/v1/ws/events',
        headers: { origin: 'http://evil.example', upgrade: 'websocket', connection: 'upgrade' },
      });
      assert.equal(fromPage.statusCode, 403);
    } finally {
      await app.close();
    }
  });

  it('ends a session on logout, and its open streams with it', async () => {
    const { cookie, key } = await login();
    // An open stream of the session, and one of another session: logout ends only its own.
    const open = (k: string, c: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://${host}/v1/ws/events`, ['berth.session', `berth.session.${k}`], {
          headers: { cookie: c, origin: `http://${host}` },
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const mine = await open(key, cookie);
    const other = await login();
    const theirs = await open(other.key, other.cookie);
    const closed = new Promise<void>((resolve) => mine.once('close', () => resolve()));
    const out = await http(port, 'POST', '/logout', { host, cookie, 'x-berth-session-key': key });
    await closed;
    assert.equal(theirs.readyState, WebSocket.OPEN, "another session's stream stays");
    theirs.close();
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    const after = await http(port, 'GET', '/v1/containers', { host, cookie, 'x-berth-session-key': key });
    assert.equal(after.status, 401);
  });

  it('says the page is not built when index.html is missing', async () => {
    const other = new DashboardServer(api, silentLogger());
    await other.listen({
      host: '127.0.0.1',
      port: 0,
      hosts: [],
      loginTtlMs: 60_000,
      sessionTtlMs: 60_000,
      webDir: join(dir, 'none'),
    });
    try {
      const p = Number(new URL(other.url()).port);
      const h = `127.0.0.1:${p}`;
      const { url } = other.loginUrl();
      const l = await http(p, 'GET', `/login${new URL(url).search}`, { host: h });
      const r = await http(p, 'GET', '/', {
        host: h,
        cookie: String(l.headers['set-cookie']).split(';')[0] ?? '',
      });
      assert.equal(r.status, 503);
      assert.match(r.body, /npm run build:web/);
    } finally {
      await other.close();
    }
  });

  it('refuses a non-loopback address without TLS, and a wildcard without host names', () => {
    const cfg = (over: Record<string, unknown>) =>
      validateConfig(DASHBOARD_CONFIG, [over], { prefix: 'dashboard.' });
    assert.throws(
      () => checkDashboardConfig(cfg({ listen: '192.0.2.10:7080' }), false),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.field === 'dashboard.listen' &&
        /192\.0\.2\.10 is not loopback: without TLS/.test(e.message),
    );
    assert.doesNotThrow(() => checkDashboardConfig(cfg({ listen: '192.0.2.10:7080' }), true));
    assert.throws(() => checkDashboardConfig(cfg({ listen: '0.0.0.0:7080' }), true), /dashboard\.hosts/);
    assert.doesNotThrow(() =>
      checkDashboardConfig(cfg({ listen: '0.0.0.0:7080', hosts: ['berth.example'] }), true),
    );
    assert.doesNotThrow(() => checkDashboardConfig(cfg({ listen: '0.0.0.0:7080', enabled: false }), false));
    assert.doesNotThrow(() => checkDashboardConfig(cfg({}), false), 'the default: 127.0.0.1:7080');
  });
});
