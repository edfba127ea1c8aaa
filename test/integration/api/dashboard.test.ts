/**
 * The dashboard listener of a real agent (src/api/README.md, "The
 * dashboard listener"): the login URL it prints and the one `berth
 * dashboard-url` makes each work once; without a session 401; the cookie's
 * flags; a replayed cookie without the session key gets nothing (a GET, a
 * stop the CLI sees refused, a WebSocket), as a page on another port that
 * was sent the cookie would replay it; the key is in no answer but the
 * login redirect's fragment, nor in the agent's log; the log WebSocket
 * through the session (Origin, the key as a protocol entry); a foreign Host or
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
    // Debug: every line the agent logs is searched for a session key.
    agent = await startAgent({ args: ['--log-level', 'debug'], config: { dashboard: { webDir: dir } } });
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

  /** Every answer the tests got after a login, but the login redirect itself: none may hold a key. */
  const answers: Answer[] = [];
  const keys: string[] = [];

  async function login(url: string): Promise<{ cookie: string; key: string; setCookie: string }> {
    const u = new URL(url);
    const r = await call(base, 'GET', u.pathname + u.search);
    assert.equal(r.status, 302, r.body);
    const setCookie = String(r.headers['set-cookie']);
    const cookie = setCookie.split(';')[0] ?? '';
    const key = /^\/#k=([\w-]{43})$/.exec(String(r.headers.location))?.[1];
    assert.ok(key, `the key in the redirect's fragment: ${String(r.headers.location)}`);
    keys.push(key);
    const s = await checked(call(base, 'GET', '/session', { cookie, 'x-berth-session-key': key }));
    assert.equal(s.status, 200);
    return { cookie, key, setCookie };
  }

  async function checked(answer: Promise<Answer>): Promise<Answer> {
    const a = await answer;
    answers.push(a);
    return a;
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

  it('a replayed cookie without the session key gets nothing: a GET, a stop, a WebSocket', async () => {
    const run = await agent.cli(['run', '-d', '--name', 'web', IMAGE, 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
    const { cookie, key } = await login(await dashboardUrl());
    // What a page on another port of 127.0.0.1 can do with the cookie the browser sent it: replay it,
    // with no Origin (not from a browser), and read what the session shows without the key.
    for (const [method, path] of [
      ['GET', '/v1/containers?all=1'],
      ['GET', '/v1/containers/web/logs'],
      ['GET', '/session'],
      ['POST', '/v1/containers/web/stop?t=1'],
      ['POST', '/v1/containers/web/exec'],
    ] as const) {
      const refused = await checked(call(base, method, path, { cookie }));
      assert.equal(refused.status, 401, `${method} ${path}: ${refused.body}`);
      assert.equal(JSON.parse(refused.body).error.code, 'Unauthenticated');
    }
    assert.equal(
      await upgrade({ cookie, origin: base.slice(0, -1) }),
      401,
      'a WebSocket with the cookie alone',
    );
    assert.equal(
      await upgrade({ cookie, origin: base.slice(0, -1) }, ['berth.session', 'berth.session.guess']),
      401,
    );
    const still = await agent.cli(['ps', '-q', '-f', 'name=web']);
    assert.notEqual(still.stdout.trim(), '', 'still running after the refused stop');
    // The page (it holds nothing) loads with the cookie alone: the key is not in it.
    const page = await checked(call(base, 'GET', '/', { cookie }));
    assert.equal(page.status, 200);
    const ok = await checked(
      call(base, 'POST', '/v1/containers/web/stop?t=1', { cookie, 'x-berth-session-key': key }),
    );
    assert.equal(ok.status, 200, ok.body);
    const gone = await agent.cli(['ps', '-q', '-f', 'name=web']);
    assert.equal(gone.stdout.trim(), '', 'stopped, as the CLI sees it');
    const all = await agent.cli(['ps', '-a', '-f', 'name=web']);
    assert.match(all.stdout, /Exited/);
  });

  /** Opens /v1/ws/events; 'open' with the protocol the agent answered (its headers kept), or the refusal's status. */
  const upgrade = (headers: Record<string, string>, protocols: string[] = []) =>
    new Promise<number | string>((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}v1/ws/events`, protocols, { headers });
      ws.once('upgrade', (res) => {
        answers.push({ status: 101, headers: res.headers, body: '' });
      });
      ws.once('open', () => {
        ws.terminate();
        resolve(`open${ws.protocol ? ` ${ws.protocol}` : ''}`);
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          answers.push({ status: res.statusCode ?? 0, headers: res.headers, body });
          resolve(res.statusCode ?? 0);
        });
      });
      ws.once('error', reject);
    });

  it('refuses a foreign Host or Origin, and a WebSocket without Origin', async () => {
    const { cookie, key } = await login(await dashboardUrl());
    const port = new URL(base).port;
    const withKey = { cookie, 'x-berth-session-key': key };
    const rebound = await call(base, 'GET', '/v1/containers', { ...withKey, host: `rebind.example:${port}` });
    assert.equal(rebound.status, 403);
    const foreign = await call(base, 'GET', '/v1/containers', { ...withKey, origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    const offered = ['berth.session', `berth.session.${key}`];
    assert.equal(await upgrade({ cookie }, offered), 403);
    assert.equal(await upgrade({ cookie, origin: 'http://evil.example' }, offered), 403);
    assert.equal(await upgrade({ cookie, origin: base.slice(0, -1) }, offered), 'open berth.session');
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
    const { cookie, key } = await login(await dashboardUrl());
    const ws = new WebSocket(
      `${base.replace('http', 'ws')}v1/ws/logs?container=talker&follow=1`,
      ['berth.session', `berth.session.${key}`],
      { headers: { cookie, origin: base.slice(0, -1) } },
    );
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

  it('no answer holds a session key but its login redirect, and the agent never logs one', async () => {
    assert.ok(keys.length >= 3, 'the tests above logged in');
    assert.ok(answers.length >= 10, `answers seen: ${answers.length}`);
    for (const a of answers) {
      const text = `${JSON.stringify(a.headers)}\n${a.body}`;
      for (const k of keys)
        assert.ok(!text.includes(k), `a key in an answer (${a.status}): ${text.slice(0, 300)}`);
    }
    const log = agent.process().output();
    assert.match(log, /dashboard: logged in/);
    for (const k of keys) assert.ok(!log.includes(k), "a key in the agent's log");
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
