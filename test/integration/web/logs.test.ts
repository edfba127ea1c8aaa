/**
 * The log viewer's features in Chromium against a real agent (issue 15):
 * JSON lines as fields coloured by level, a stack trace grouped under its
 * line, a service merged with a prefix per replica, containers side by
 * side, pause/resume, jump to a time (inside what the page holds, and
 * earlier: reloaded from the agent), and a download of what is shown.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { inPage, screenshot } from '../../harness/browser.js';
import { pollUntil } from '../../harness/proc.js';
import { IMAGE, startWebFixture, type WebFixture } from './fixture.js';

let f: WebFixture;
const tag = randomBytes(3).toString('hex');
const APP = `app-${tag}`;
const PEER = `peer-${tag}`;
const COUNTER = `counter-${tag}`;
const PROJECT = `logs${tag}`;
const labels = [
  '--label',
  `com.docker.compose.project=${PROJECT}`,
  '--label',
  'com.docker.compose.service=svc',
];

const APP_SCRIPT = `
echo '{"level":"info","msg":"started","port":8080}'
echo '{"level":"error","msg":"db down","retry":3,"time":"2026-12-07T10:00:00Z"}'
echo 'Exception in thread "main" java.lang.IllegalStateException: boom'
printf '\\tat com.example.A.run(A.java:10)\\n\\tat com.example.Main.main(Main.java:5)\\nCaused by: java.io.IOException: gone\\n'
echo 'after the trace'
i=0; while true; do echo "beat $i"; i=$((i+1)); sleep 0.5; done`;

describe('log viewer features in Chromium', { concurrency: false }, () => {
  before(async () => {
    f = await startWebFixture();
    await f.ok(['run', '-d', '--name', APP, ...labels, IMAGE, 'sh', '-c', APP_SCRIPT]);
    await f.ok([
      'run',
      '-d',
      '--name',
      PEER,
      ...labels,
      IMAGE,
      'sh',
      '-c',
      'i=0; while true; do echo "peer $i"; i=$((i+1)); sleep 0.5; done',
    ]);
    // 400 numbered lines over ~4 s, then quiet: the page's tail (200) holds only the later half.
    await f.ok([
      'run',
      '-d',
      '--name',
      COUNTER,
      IMAGE,
      'sh',
      '-c',
      'i=0; while [ $i -lt 400 ]; do echo "n $i"; i=$((i+1)); usleep 10000; done; exec sleep 3600',
    ]);
    await pollUntil(
      'the counter done',
      async () => ((await f.ok(['logs', '--tail', '1', COUNTER])).trim() === 'n 399' ? true : undefined),
      30_000,
    );
  });
  after(async () => {
    await f?.close();
  });

  test('JSON lines show level, message and fields; a stack trace is grouped and expands', async () => {
    const { page, problems } = await f.open(`#/logs?container=${APP}`);
    const error = page.locator('.log-rows .row.lvl-error', { hasText: 'db down' });
    await error.waitFor({ timeout: 20_000 });
    // The trace's frames may come in a later batch than its first line.
    await page
      .locator('.log-rows .row button.more', { hasText: '3 more lines' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await error.locator('.lv').textContent(), 'ERROR');
    assert.deepEqual(await error.locator('.f .k').allTextContents(), ['retry']);
    assert.equal(await error.locator('.f .v').textContent(), '3');
    assert.equal(await page.locator('.log-rows .row.lvl-info .lv').first().textContent(), 'INFO');

    const trace = page.locator('.log-rows .row', { hasText: 'IllegalStateException' });
    const more = trace.locator('button.more');
    assert.equal(await more.textContent(), '▸ 3 more lines');
    assert.equal(await page.locator('.log-rows .row', { hasText: 'Caused by' }).count(), 0);
    await more.focus();
    await page.keyboard.press('Enter');
    await trace
      .locator('.line.cont', { hasText: 'Caused by: java.io.IOException: gone' })
      .waitFor({ timeout: 5000 });
    assert.equal(await trace.locator('.line.cont').count(), 3);
    assert.equal(await trace.locator('button.more').getAttribute('aria-expanded'), 'true');
    // The row after the trace is the next line, not a frame.
    const after = page.locator('.log-rows .row', { hasText: 'after the trace' });
    assert.equal(await after.count(), 1);
    await screenshot(page, 'logs-json-trace-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('a service merged into one pane, each line prefixed by its replica', async () => {
    const { page, problems } = await f.open(`#/logs?project=${PROJECT}&service=svc`);
    await pollUntil(
      'lines of both replicas',
      async () => {
        const prefixes = new Set(await page.locator('.log-rows .row .c').allTextContents());
        return prefixes.has(APP) && prefixes.has(PEER) ? true : undefined;
      },
      15_000,
    );
    assert.equal(await page.locator('.log-pane').count(), 1);
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('containers side by side, one pane each', async () => {
    const { page, problems } = await f.open(`#/logs?container=${APP}&container=${PEER}&layout=split`);
    await page.locator('.log-pane').nth(1).waitFor();
    assert.equal(await page.locator('.log-pane').count(), 2);
    await page
      .locator('.log-pane')
      .nth(0)
      .locator('.row', { hasText: 'beat' })
      .first()
      .waitFor({ timeout: 10_000 });
    await page
      .locator('.log-pane')
      .nth(1)
      .locator('.row', { hasText: 'peer' })
      .first()
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.log-pane').nth(0).locator('.row', { hasText: 'peer' }).count(), 0);
    await screenshot(page, 'logs-split-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('pause holds new lines back, resume shows them', async () => {
    const { page, problems } = await f.open(`#/logs?container=${APP}`);
    await page.locator('.log-rows .row', { hasText: 'beat' }).first().waitFor({ timeout: 10_000 });
    await page.click('#log-pause');
    assert.equal(await page.getAttribute('#log-pause', 'aria-pressed'), 'true');
    const marker = `paused-${randomBytes(3).toString('hex')}`;
    await f.ok(['exec', APP, 'sh', '-c', `echo ${marker} > /proc/1/fd/1`]);
    await pollUntil(
      'held lines counted',
      async () =>
        /paused, [1-9]\d* new/.test((await page.textContent('.log-status')) ?? '') ? true : undefined,
      10_000,
    );
    assert.equal(await page.locator('.log-rows .row', { hasText: marker }).count(), 0);
    await page.click('#log-pause');
    await page.locator('.log-rows .row', { hasText: marker }).waitFor({ timeout: 5000 });
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('jump to a time: within the held lines it scrolls there; earlier, it reloads from the agent', async () => {
    const { page, problems } = await f.open(`#/logs?container=${COUNTER}`);
    await page.locator('.log-rows .row', { hasText: /^.*n 399$/ }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.log-pane').getAttribute('data-held'), '200');
    // The times of two lines, from the CLI: one the page holds (n 250), one before its first (n 50).
    const stamps = (await f.ok(['logs', '-t', COUNTER])).split('\n');
    const timeOf = (n: number) => stamps.find((l) => l.endsWith(` n ${n}`))?.split(' ')[0] ?? '';
    // datetime-local takes the browser's local time: the page formats the instant itself.
    const local = (iso: string) =>
      inPage<string>(
        page,
        `(() => { const d = new Date(${JSON.stringify(iso)}); const p = (x, n = 2) => String(x).padStart(n, '0');
          return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' +
            p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3); })()`,
      );
    await page.fill('#log-time', await local(timeOf(250)));
    await page.click('#log-jump');
    await page.locator('.log-rows .row', { hasText: /n 250$/ }).waitFor({ timeout: 5000 });
    assert.match((await page.textContent('.log-status')) ?? '', /not following/);
    assert.equal(
      await page.locator('.log-rows .row', { hasText: /n 399$/ }).count(),
      0,
      'scrolled away from the end',
    );

    await page.fill('#log-time', await local(timeOf(50)));
    await page.click('#log-jump');
    await page.locator('.log-banner:not([hidden])').waitFor({ timeout: 5000 });
    await page.locator('.log-rows .row', { hasText: /n 50$/ }).waitFor({ timeout: 10_000 });
    assert.match((await page.textContent('.log-banner')) ?? '', /Showing lines from/);
    await page.click('.log-banner button');
    await page.locator('.log-banner[hidden]').waitFor({ state: 'attached', timeout: 5000 });
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('download saves the lines shown (search applied)', async () => {
    const { page, problems } = await f.open(`#/logs?container=${COUNTER}`);
    await page.locator('.log-rows .row', { hasText: /n 399$/ }).waitFor({ timeout: 10_000 });
    await page.fill('#log-search', 'n 39');
    await page.press('#log-search', 'Enter');
    await pollUntil(
      '10 matches: n 390 to n 399 (n 39 is older than the 200 lines held)',
      async () => (/^10 lines match/.test((await page.textContent('.log-status')) ?? '') ? true : undefined),
      5000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: status ${await page.textContent('.log-status')}`);
    });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#log-download')]);
    const text = await readFile((await download.path()) as string, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 10);
    assert.match(lines[0] ?? '', new RegExp(`^\\S+Z ${COUNTER} stdout n 390$`));
    assert.match(lines[9] ?? '', / n 399$/);
    assert.deepEqual(problems.errors, []);
    await page.close();
  });
});
