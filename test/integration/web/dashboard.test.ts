/**
 * The dashboard in Debian's Chromium against a real agent with real
 * containers (issue 15): it loads cleanly and fast, its charts move with the
 * stats stream, the log tail shows what a container just printed and a
 * regex finds it, and stopping a container from the page (confirmed with the
 * keyboard) stops it, as the CLI sees. Screenshots at 1280×800 and 390×844
 * go to test-artifacts/web/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { inPage, screenshot } from '../../harness/browser.js';
import { pollUntil } from '../../harness/proc.js';
import { IMAGE, startWebFixture, type WebFixture } from './fixture.js';

const PHONE = { width: 390, height: 844 };
let f: WebFixture;
const tag = randomBytes(3).toString('hex');
const TICKER = `ticker-${tag}`;
const IDLE = `idle-${tag}`;

async function state(name: string): Promise<string> {
  const [d] = JSON.parse(await f.ok(['inspect', name])) as Array<{ state: string }>;
  return d?.state ?? 'missing';
}

describe('web dashboard in Chromium', () => {
  before(async () => {
    f = await startWebFixture();
    // A container that prints a line every 200 ms and burns a little CPU, and one that idles.
    await f.ok([
      'run',
      '-d',
      '--name',
      TICKER,
      '--memory',
      '64m',
      IMAGE,
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done',
    ]);
    await f.ok([
      'run',
      '-d',
      '--name',
      IDLE,
      IMAGE,
      'sh',
      '-c',
      "trap 'exit 0' TERM; while :; do sleep 1; done",
    ]);
  });
  after(async () => {
    await f?.close();
  });

  test('the containers view loads with no console error, its first view within 1 s of load', async () => {
    const { page, problems } = await f.open('#/containers');
    await page.waitForSelector(`tr[data-name="${TICKER}"]`, { timeout: 10_000 });
    await page.waitForSelector('body[data-ready]');
    const firstView = await inPage<number>(
      page,
      `performance.getEntriesByName('berth:first-view')[0]?.startTime ?? -1`,
    );
    const nav = await inPage<{ dcl: number } | undefined>(
      page,
      `(() => { const n = performance.getEntriesByType('navigation')[0]; return n && { dcl: n.domContentLoadedEventEnd }; })()`,
    );
    console.log(
      `# first view: ${firstView.toFixed(0)} ms after navigation start (DOMContentLoaded ${nav?.dcl.toFixed(0)} ms)`,
    );
    assert.ok(firstView > 0 && firstView < 1000, `first view at ${firstView} ms`);
    const row = page.locator(`tr[data-name="${TICKER}"]`);
    assert.match((await row.textContent()) ?? '', /running/);
    assert.match((await row.textContent()) ?? '', new RegExp(IMAGE.replace(/[/.]/g, '\\$&')));
    // Addresses: the container's bridge address is shown.
    assert.match((await row.locator('td[data-label="Addresses"]').textContent()) ?? '', /^10\.215\.\d+\.\d+/);
    // Run mode: no Source column, no source filter (observed.test.ts has them).
    assert.equal(await page.locator('table.containers thead th', { hasText: 'Source' }).count(), 0);
    assert.equal(await page.locator('#source-filter').isVisible(), false);
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('a chart gets new points over the stats WebSocket', async () => {
    const { page, problems } = await f.open('#/containers');
    const cpu = page.locator('figure[data-chart="cpu"]');
    await cpu.waitFor();
    const points = async () => Number(await cpu.getAttribute('data-points'));
    const first = await pollUntil(
      'a first stats point',
      async () => ((await points()) >= 1 ? points() : undefined),
      10_000,
    );
    await pollUntil(
      'two more points',
      async () => ((await points()) >= first + 2 ? true : undefined),
      10_000,
    );
    // uPlot drew a series for the ticker (its legend names it).
    assert.match((await cpu.textContent()) ?? '', new RegExp(TICKER));
    // Live numbers in the table too, and a screenshot with the charts drawn.
    await pollUntil(
      'CPU figures in the table',
      async () =>
        (await page.locator(`tr[data-name="${TICKER}"] td[data-label="CPU"]`).textContent())?.includes('%')
          ? true
          : undefined,
      5000,
    );
    await screenshot(page, 'containers-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the log tail shows a line the container just printed and a regex search finds it', async () => {
    const { page, problems } = await f.open(`#/logs?container=${TICKER}`);
    await page.waitForSelector('.log-pane[data-stream="open"]');
    await page.waitForSelector('.log-rows .row');
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    // Printed by the container's own stdout (PID 1's), as any line it prints.
    await f.ok(['exec', TICKER, 'sh', '-c', `echo "${marker} done" > /proc/1/fd/1`]);
    await page.locator('.log-rows .row', { hasText: marker }).waitFor({ timeout: 10_000 });
    await page.selectOption('#log-mode', 'regex');
    await page.fill('#log-search', 'marker-[0-9a-f]{8} done$');
    await page.press('#log-search', 'Enter');
    const hit = page.locator('.log-rows .row mark', { hasText: marker });
    await hit.waitFor({ timeout: 5000 });
    // Only the matching line is left; the ticks are filtered out.
    await pollUntil(
      'only matches shown',
      async () => ((await page.locator('.log-rows .row').count()) === 1 ? true : undefined),
      5000,
    );
    await screenshot(page, 'logs-search-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('Escape cancels a stop; Enter confirms it and the CLI sees the container exited; Start brings it back', async () => {
    const { page, problems } = await f.open('#/containers');
    const stop = page.locator(`tr[data-name="${IDLE}"] button[data-action="stop"]`);
    await stop.waitFor();
    await stop.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', new RegExp(`Stop ${IDLE}\\?`));
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Focus went back to the button that opened it.
    assert.equal(await inPage(page, `document.activeElement?.getAttribute('data-action')`), 'stop');
    assert.equal(await state(IDLE), 'running');

    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Enter');
    await pollUntil(
      'the CLI sees it exited',
      async () => ((await state(IDLE)) === 'exited' ? true : undefined),
      20_000,
    );
    // The page follows the event: the row says exited and offers Start.
    await page.locator(`tr[data-name="${IDLE}"] button[data-action="start"]`).waitFor({ timeout: 5000 });
    // The events view of the same page lists what happened since it opened: the stop, then the death.
    await page.click('nav a[data-nav="events"]');
    const died = page.locator('table.events tr[data-topic="container.died"]', { hasText: IDLE });
    await died.waitFor({ timeout: 5000 });
    assert.equal(
      await page.locator('table.events tr[data-topic="container.stopping"]', { hasText: IDLE }).count(),
      1,
    );
    await screenshot(page, 'events-1280x800');
    // And back: Start, confirmed with the mouse this time, and the CLI sees it running again.
    await page.click('nav a[data-nav="containers"]');
    await page.locator(`tr[data-name="${IDLE}"] button[data-action="start"]`).click();
    await dialog.locator('button.primary').click();
    await pollUntil(
      'the CLI sees it running',
      async () => ((await state(IDLE)) === 'running' ? true : undefined),
      20_000,
    );
    await page.locator('#notices .notice', { hasText: `${IDLE}: started` }).waitFor({ timeout: 5000 });
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('keyboard: Tab reaches the skip link, then the views in order; the skip link moves focus to the content', async () => {
    const { page, problems } = await f.open('#/containers');
    await page.waitForSelector('body[data-ready]');
    const focused = () => inPage<string>(page, `document.activeElement?.textContent ?? ''`);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    assert.deepEqual(order, ['Containers', 'Services', 'Projects', 'Logs', 'Events', 'Agent']);
    await page.keyboard.press('Enter');
    await page.waitForFunction(`location.hash === '#/agent'`);
    for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await inPage(page, 'document.activeElement?.id'), 'content');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the agent view shows its endpoints and the sidecars: catalog, HAProxy, log shipping', async () => {
    const { page, problems } = await f.open('#/agent');
    const text = async () => (await page.textContent('main')) ?? '';
    await pollUntil(
      'the sidecars',
      async () =>
        (await text()).includes('catalog') && (await text()).includes('log shipping') ? true : undefined,
      10_000,
    );
    const info = await f.agent.info();
    const endpoints = info.endpoints as Record<string, string>;
    for (const k of ['api', 'dns', 'metrics', 'dashboard'])
      assert.ok((await text()).includes(endpoints[k] ?? '?'), `endpoint ${k}`);
    assert.match(await text(), /catalog\s*local: \d+ services, \d+ instances/);
    assert.match(await text(), /haproxy\s*\d+ backends, \d+ servers/);
    assert.match(await text(), /log shipping\s*off \(no Fluentd receiver named\)/);
    assert.match(await text(), /events stream\s*open/);
    await screenshot(page, 'agent-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('readable at a phone width (390×844): no horizontal overflow of the page', async () => {
    for (const [hash, name] of [
      ['#/containers', 'containers'],
      [`#/logs?container=${TICKER}`, 'logs'],
      [`#/containers/${TICKER}`, 'container'],
      ['#/events', 'events'],
      ['#/agent', 'agent'],
    ] as const) {
      const { page, problems } = await f.open(hash, PHONE);
      await page.waitForSelector('body[data-ready]');
      await page.waitForTimeout(300);
      const overflow = await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
      await screenshot(page, `${name}-390x844`);
      assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the phone`);
      assert.deepEqual(problems.errors, [], name);
      await page.close();
    }
  });
});
