/**
 * The dashboard's session key in Debian's Chromium against a real agent
 * (src/api/README.md, "Threat model"): the login redirect hands the page its
 * key in the fragment, which leaves the address bar for localStorage; a
 * second tab of the origin works; the cookie Chromium sends to a page on
 * another port of 127.0.0.1 (a real server, run as any local user could) gets
 * nothing from the dashboard when replayed; no answer or frame the browser
 * got and no line the agent logged holds the key; a page without the key
 * says to run `berth dashboard-url`, and so does one whose session ends
 * meanwhile; logging out forgets it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'playwright-core';
import { WebSocket } from 'ws';
import { inPage } from '../../harness/browser.js';
import { freePort } from '../../harness/ports.js';
import { IMAGE, startWebFixture, type WebFixture } from './fixture.js';

let f: WebFixture;
const VICTIM = `victim-${randomBytes(3).toString('hex')}`;
const KEY_ITEM = 'berth.sessionKey';

/** node:http, as an attacker's script replays a cookie: no browser, no Origin unless it adds one. */
function replay(base: string, method: string, path: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request with the cookie and the key, as the page sends them. */
function send(base: string, method: string, path: string, cookie: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, headers: { cookie, 'x-berth-session-key': key } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket upgrade with the replayed cookie (and the dashboard's own Origin, which a script can claim). */
function replayUpgrade(base: string, cookie: string, protocols: string[]): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws/events`, protocols, {
      headers: { cookie, origin: base },
    });
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

describe('the dashboard session key in Chromium', { concurrency: false }, () => {
  /** Every answer Chromium got (headers and bodies) and every WebSocket frame, to search for the key. */
  const seen: Array<Promise<string>> = [];
  const onResponse = (r: Response) => {
    seen.push(
      (async () => {
        const headers = JSON.stringify(await r.allHeaders());
        // The one answer that carries the key: the login redirect's Location. Its other headers are kept.
        const location = r.status() === 302 && new URL(r.url()).pathname === '/login';
        const body = await r.text().catch(() => '');
        return `${r.status()} ${r.url()} ${location ? headers.replace(/"location":"[^"]*"/, '') : headers}\n${body}`;
      })(),
    );
  };

  before(async () => {
    f = await startWebFixture();
    f.browser.context.on('response', onResponse);
    await f.ok([
      'run',
      '-d',
      '--name',
      VICTIM,
      IMAGE,
      'sh',
      '-c',
      "trap 'exit 0' TERM; while :; do sleep 1; done",
    ]);
  });
  after(async () => {
    f?.browser?.context.off('response', onResponse);
    await f?.close();
  });

  test('login leaves the key in localStorage, not the address bar; a second tab works', async () => {
    const { page, problems } = await f.open('');
    page.on('websocket', (ws) =>
      ws.on('framereceived', (fr) => seen.push(Promise.resolve(String(fr.payload)))),
    );
    await page.waitForSelector('body[data-ready]');
    const key = await inPage<string | null>(page, `localStorage.getItem('${KEY_ITEM}')`);
    assert.match(key ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(page.url(), `${f.base}/`, 'the fragment is gone from the address bar');
    assert.equal(await inPage(page, 'location.hash'), '');
    await page.waitForSelector(`tr[data-name="${VICTIM}"]`, { timeout: 10_000 });
    await page.waitForSelector('.stream-dot.ok', { timeout: 10_000 });

    const second = await f.browser.newPage();
    second.page.on('websocket', (ws) =>
      ws.on('framereceived', (fr) => seen.push(Promise.resolve(String(fr.payload)))),
    );
    await second.page.goto(`${f.base}/#/containers`);
    await second.page.waitForSelector(`tr[data-name="${VICTIM}"]`, { timeout: 10_000 });
    await second.page.waitForSelector('.stream-dot.ok', { timeout: 10_000 });
    // A state-changing call from the second tab: the container view's Stop, confirmed.
    await second.page.locator(`tr[data-name="${VICTIM}"] button[data-action="stop"]`).click();
    await second.page.locator('dialog.confirm button[value="ok"]').click();
    await second.page
      .locator(`tr[data-name="${VICTIM}"] button[data-action="start"]`)
      .waitFor({ timeout: 20_000 });
    await f.ok(['start', VICTIM]);
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(second.problems.errors, []);
    await second.page.close();
    await page.close();
  });

  test('the cookie sent to a page on another port of 127.0.0.1 gets nothing when replayed', async () => {
    // The other port's server, as any local user could run one: it keeps the Cookie header it is sent.
    const cookies: string[] = [];
    const port = await freePort();
    const server: Server = createServer((req, res) => {
      cookies.push(req.headers.cookie ?? '');
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>another service</title>');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const { page } = await f.open('');
      await page.waitForSelector('body[data-ready]');
      const evil = await f.browser.newPage();
      await evil.page.goto(`http://127.0.0.1:${port}/`);
      const cookie = cookies.find((c) => c.includes('berth_session=')) ?? '';
      assert.match(cookie, /berth_session=[\w-]{43}/, 'browsers do not scope cookies by port: the premise');
      // The other page's script cannot read the dashboard's key: localStorage is per origin, port included.
      assert.equal(await inPage(evil.page, `localStorage.getItem('${KEY_ITEM}')`), null);
      await evil.page.close();

      assert.equal(await replay(f.base, 'GET', '/v1/containers?all=1', cookie), 401, 'a GET route');
      assert.equal(await replay(f.base, 'GET', '/session', cookie), 401, '/session');
      assert.equal(await replay(f.base, 'POST', `/v1/containers/${VICTIM}/stop?t=1`, cookie), 401, 'a stop');
      assert.equal(await replayUpgrade(f.base, cookie, []), 401, 'a WebSocket');
      assert.equal(await replayUpgrade(f.base, cookie, ['berth.session', 'berth.session.guess']), 401);
      const [d] = JSON.parse(await f.ok(['inspect', VICTIM])) as Array<{ state: string }>;
      assert.equal(d?.state, 'running', 'the replayed stop did nothing');
      // The page loads with the cookie alone, and holds nothing.
      assert.equal(await replay(f.base, 'GET', '/', cookie), 200);
      // Even from the dashboard's own origin, the cookie alone is not enough.
      assert.equal(await inPage(page, `fetch('/v1/version').then((r) => r.status)`), 401);
      await page.close();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('no answer or frame Chromium got, and no agent log line, holds a key (the login redirect aside)', async () => {
    const { page } = await f.open('');
    await page.waitForSelector('body[data-ready]');
    const key = (await inPage<string | null>(page, `localStorage.getItem('${KEY_ITEM}')`)) ?? '';
    await page.close();
    assert.ok(key.length === 43);
    const texts = await Promise.all(seen);
    assert.ok(texts.length > 10, `answers seen: ${texts.length}`);
    assert.ok(
      texts.some((t) => t.startsWith('302 ') && t.includes('/login?token=')),
      'the login redirects were seen',
    );
    for (const t of texts) assert.ok(!t.includes(key), `the key in: ${t.slice(0, 300)}`);
    assert.ok(!f.agent.process().output().includes(key), "the key in the agent's log");
  });

  test('a page without the key says to run berth dashboard-url, and sends nothing', async () => {
    // A live session: the cookie is good, only the key is missing.
    const { page } = await f.open('');
    await page.waitForSelector('body[data-ready]');
    await page.close();
    // Cleared storage (or another browser with the cookie): the page, loaded with the cookie alone.
    const bare = await f.browser.newPage();
    const requests: string[] = [];
    bare.page.on('request', (r) => requests.push(r.url()));
    await bare.page.addInitScript(`localStorage.removeItem('${KEY_ITEM}')`);
    await bare.page.goto(`${f.base}/#/containers`);
    const message = bare.page.locator('[data-login-needed]');
    await message.waitFor({ timeout: 5000 });
    assert.match((await message.textContent()) ?? '', /does not hold this dashboard's session key/);
    assert.match(
      (await bare.page.textContent('main')) ?? '',
      /Run berth dashboard-url on the host for a new login link/,
    );
    assert.deepEqual(
      requests.filter((u) => new URL(u).pathname.startsWith('/v1/') || new URL(u).pathname === '/session'),
      [],
      'no API request without the key',
    );
    assert.deepEqual(bare.problems.errors, []);
    await bare.page.close();
  });

  test('a page whose session ends meanwhile (logged out elsewhere) loses its streams, says so and stops', async () => {
    const { page } = await f.open('#/containers');
    await page.waitForSelector('body[data-ready]');
    await page.waitForSelector('.stream-dot.ok', { timeout: 10_000 });
    const key = (await inPage<string | null>(page, `localStorage.getItem('${KEY_ITEM}')`)) ?? '';
    const cookie = (await f.browser.context.cookies(f.base)).find((c) => c.name === 'berth_session');
    assert.ok(cookie && key);
    assert.equal(await send(f.base, 'POST', '/logout', `berth_session=${cookie.value}`, key), 204);
    // The agent closes the session's streams; the page asks, and says so without being touched.
    const message = page.locator('[data-login-needed]');
    await message.waitFor({ timeout: 10_000 });
    assert.match((await message.textContent()) ?? '', /The session has ended/);
    assert.match((await page.textContent('main')) ?? '', /berth dashboard-url/);
    assert.ok(await page.locator('.stream-dot.down').count(), 'the streams are closed');
    // Closed for good: no more attempts at the agent.
    const attempts: string[] = [];
    page.on('request', (r) => attempts.push(r.url()));
    page.on('websocket', (ws) => attempts.push(ws.url()));
    await page.waitForTimeout(2500);
    assert.deepEqual(attempts, []);
    await page.close();
  });

  test('Log out ends the session and forgets the key', async () => {
    const { page } = await f.open('#/containers');
    await page.waitForSelector('body[data-ready]');
    const key = (await inPage<string | null>(page, `localStorage.getItem('${KEY_ITEM}')`)) ?? '';
    const cookie = (await f.browser.context.cookies(f.base)).find((c) => c.name === 'berth_session');
    assert.ok(cookie && key);
    await page.getByRole('button', { name: 'Log out' }).click();
    // Reloaded without a session: the agent's own page saying how to log in.
    // (A locator, not waitForFunction: the page's CSP forbids the eval that one uses.)
    await page.locator('h1', { hasText: 'Log in to the berth dashboard' }).waitFor({ timeout: 10_000 });
    assert.match((await page.textContent('body')) ?? '', /berth dashboard-url/);
    assert.equal(await inPage(page, `localStorage.getItem('${KEY_ITEM}')`), null);
    const status = await send(f.base, 'GET', '/v1/version', `berth_session=${cookie.value}`, key);
    assert.equal(status, 401, 'the session is over on the agent');
    await page.close();
  });
});
