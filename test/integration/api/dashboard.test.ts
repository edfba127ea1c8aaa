/**
 * The dashboard listener of a real agent (src/api/README.md, "The
 * dashboard listener"): the login URL it prints and the one `berth
 * dashboard-url` makes each work once; without a session 401; the cookie's
 * flags; a stop from the page needs X-Berth-CSRF (checked with the CLI);
 * the log WebSocket through the session with Origin; a foreign Host or
 * Origin refused; TLS (Secure cookie) with the API's certificate; a
 * non-loopback address without TLS refused at start.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { runCli, startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const IMAGE = 'test/busybox:dashboard';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http(s), not fetch: fetch will not send a Host of our choosing. */
function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  ca?: Buffer,
): Promise<Answer> {
  const u = new URL(base);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: { host: u.host, ...headers },
        ...(ca ? { ca } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard listener (real agent)', () => {
  let agent: TestAgent;
  let dir: string;
  let base: string;

  before(async () => {
    dir = await tempDir('api-dashboard');
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>berth dashboard</title>');
    agent = await startAgent({ config: { dashboard: { webDir: dir } } });
    const r = await agent.cli([
      'load',
      '-i',
      await buildBusyboxImage({ format: 'oci', ref: IMAGE, outDir: dir }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const info = (await agent.info()) as { endpoints: Record<string, string> };
    base = info.endpoints.dashboard ?? '';
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });
  after(async () => {
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  async function login(url: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const u = new URL(url);
    const r = await call(base, 'GET', u.pathname + u.search);
    assert.equal(r.status, 302, r.body);
    const setCookie = String(r.headers['set-cookie']);
    const cookie = setCookie.split(';')[0] ?? '';
    const s = await call(base, 'GET', '/session', { cookie });
    assert.equal(s.status, 200);
    return { cookie, csrf: (JSON.parse(s.body) as { csrf: string }).csrf, setCookie };
  }

  async function dashboardUrl(): Promise<string> {
    const r = await agent.cli(['dashboard-url']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /good once, until/);
    return r.stdout.trim();
  }

  it('prints a one-time login URL at start that works once', async () => {
    const printed = /^ {2}login {4}(http:\/\/\S+)/m.exec(agent.process().output())?.[1];
    assert.ok(printed, agent.process().output().slice(0, 2000));
    assert.ok(printed.startsWith(`${base}login?token=`));
    const { setCookie } = await login(printed);
    assert.match(setCookie, /^berth_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    const u = new URL(printed);
    assert.equal((await call(base, 'GET', u.pathname + u.search)).status, 401, 'used');
  });

  it('answers 401 without a session; berth dashboard-url gives a new URL', async () => {
    const r = await call(base, 'GET', '/v1/containers');
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.code, 'Unauthenticated');
    const url = await dashboardUrl();
    const { cookie } = await login(url);
    const page = await call(base, 'GET', '/', { cookie });
    assert.equal(page.status, 200);
    assert.match(page.body, /berth dashboard/);
    const u = new URL(url);
    assert.equal((await call(base, 'GET', u.pathname + u.search)).status, 401, 'used');
  });

  it('stops a container only with X-Berth-CSRF', async () => {
    const run = await agent.cli(['run', '-d', '--name', 'web', IMAGE, 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
    const { cookie, csrf } = await login(await dashboardUrl());
    const refused = await call(base, 'POST', '/v1/containers/web/stop?t=1', { cookie });
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.body).error.code, 'PermissionDenied');
    const still = await agent.cli(['ps', '-q', '-f', 'name=web']);
    assert.notEqual(still.stdout.trim(), '', 'still running after the refused stop');
    const ok = await call(base, 'POST', '/v1/containers/web/stop?t=1', { cookie, 'x-berth-csrf': csrf });
    assert.equal(ok.status, 200, ok.body);
    const gone = await agent.cli(['ps', '-q', '-f', 'name=web']);
    assert.equal(gone.stdout.trim(), '', 'stopped, as the CLI sees it');
    const all = await agent.cli(['ps', '-a', '-f', 'name=web']);
    assert.match(all.stdout, /Exited/);
  });

  it('refuses a foreign Host or Origin, and a WebSocket without Origin', async () => {
    const { cookie } = await login(await dashboardUrl());
    const port = new URL(base).port;
    const rebound = await call(base, 'GET', '/v1/containers', { cookie, host: `rebind.example:${port}` });
    assert.equal(rebound.status, 403);
    const foreign = await call(base, 'GET', '/v1/containers', { cookie, origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number | 'open'>((resolve, reject) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}v1/ws/events`, { headers });
        ws.once('open', () => {
          ws.terminate();
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', reject);
      });
    assert.equal(await upgrade({ cookie }), 403);
    assert.equal(await upgrade({ cookie, origin: 'http://evil.example' }), 403);
    assert.equal(await upgrade({ cookie, origin: base.slice(0, -1) }), 'open');
  });

  it('streams a container log through the session', async () => {
    const run = await agent.cli([
      'run',
      '-d',
      '--name',
      'talker',
      IMAGE,
      'sh',
      '-c',
      'echo hello-dashboard; sleep 600',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { cookie } = await login(await dashboardUrl());
    const ws = new WebSocket(`${base.replace('http', 'ws')}v1/ws/logs?container=talker&follow=1`, {
      headers: { cookie, origin: base.slice(0, -1) },
    });
    const lines: string[] = [];
    ws.on('message', (d) => {
      for (const l of JSON.parse(String(d)) as Array<{ line: string }>) lines.push(l.line);
    });
    try {
      await pollUntil(
        'the line on the dashboard stream',
        async () => lines.includes('hello-dashboard') || undefined,
        15_000,
        50,
      );
    } finally {
      ws.terminate();
    }
  });

  it('serves https with a Secure cookie when the API has TLS', async () => {
    await mkdir(join(dir, 'tls'));
    const certs = await makeTestCertificates(join(dir, 'tls'));
    const tlsAgent = await startAgent({
      args: ['--api-tls-cert', certs.certPath, '--api-tls-key', certs.keyPath],
      config: { dashboard: { webDir: dir } },
    });
    try {
      const info = (await tlsAgent.info()) as { endpoints: Record<string, string> };
      const tlsBase = info.endpoints.dashboard ?? '';
      assert.match(tlsBase, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      const r = await tlsAgent.cli(['dashboard-url']);
      assert.equal(r.code, 0, r.stderr);
      const u = new URL(r.stdout.trim());
      const { readFile } = await import('node:fs/promises');
      const ca = await readFile(certs.caCertPath);
      const l = await call(tlsBase, 'GET', u.pathname + u.search, {}, ca);
      assert.equal(l.status, 302);
      assert.match(
        String(l.headers['set-cookie']),
        /; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/,
      );
    } finally {
      await tlsAgent.stop();
    }
  });

  it('refuses a dashboard address that is not loopback without TLS, before touching anything', async () => {
    const r = await runCli(
      [
        'agent',
        '--dashboard',
        '192.0.2.10:7080',
        '--state-root',
        join(dir, 'no-state'),
        '--run-dir',
        join(dir, 'no-run'),
        '--socket',
        join(dir, 'no.sock'),
      ],
      {},
    );
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /dashboard\.listen: 192\.0\.2\.10 is not loopback: without TLS/);
    const { existsSync } = await import('node:fs');
    assert.ok(!existsSync(join(dir, 'no-state')), 'no state created');
  });
});
