/**
 * Compose projects in the dashboard (issues 14 and 15), against a real
 * agent: a project of two replicas of the HTTP test service behind HAProxy.
 * The projects view shows the replicas; a rolling update to v2 (started
 * with `berth up`, as a user does) shows live progress (old/new counts and
 * the replica it waits on) until only new replicas are left; the services
 * view shows each replica's HAProxy server state and sessions; and the page
 * scales the service and rolls it back, each confirmed in its dialog, as the
 * CLI then sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { inPage, screenshot } from '../../harness/browser.js';
import { loadHttpImages } from '../../harness/http-image.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { replicas, settled, up, type WebProject, writeWebProject } from '../deploy/rollout-helpers.js';
import { startWebFixture, type WebFixture } from './fixture.js';

const PROJECT = 'webroll';
let f: WebFixture;
let dir: string;
let web: WebProject;

/** What the rollout box says now, or undefined when none shows. */
async function rolloutText(page: Page): Promise<string | undefined> {
  return inPage<string | undefined>(
    page,
    `document.querySelector('section[data-project="${PROJECT}"] .rollout')?.textContent ?? undefined`,
  );
}

describe('Compose projects in the dashboard', { concurrency: false }, () => {
  before(async () => {
    f = await startWebFixture();
    dir = await tempDir('web-projects');
    await loadHttpImages(f.agent.cli, dir, ['v1', 'v2']);
    // A monitor of 3 s per replica keeps the rollout on screen long enough to watch.
    web = await writeWebProject(dir, {
      name: PROJECT,
      lbPort: await freePort(),
      replicas: 2,
      update: { monitor: '3s' },
    });
    const r = await up(f.agent, web, 'v1');
    assert.equal(r.code, 0, `up v1: ${r.stderr}${r.stdout}`);
    await pollUntil('2 healthy v1 replicas', () => settled(f.agent, PROJECT, 'v1', 2), 60_000);
  });
  after(async () => {
    await f?.agent.cli(['down', '-p', PROJECT]).catch(() => undefined);
    await f?.close();
    if (dir) await removeDir(dir);
  });

  test('a rolling update shows its progress live, old and new counts and the replica it waits on', async () => {
    const { page, problems } = await f.open('#/projects');
    const service = page.locator(`section[data-project="${PROJECT}"] section[data-service="web"]`);
    await service.waitFor({ timeout: 10_000 });
    assert.match((await service.locator('.replica-counts').textContent()) ?? '', /^2\/2 running, 2 healthy$/);

    const rolling = up(f.agent, web, 'v2');
    const seen: string[] = [];
    let sawWaiting = false;
    let shot = false;
    await pollUntil(
      'the rollout to finish on the page',
      async () => {
        const text = await rolloutText(page);
        if (text !== undefined && seen.at(-1) !== text) seen.push(text);
        if (text?.includes('waiting on')) {
          sawWaiting = true;
          if (!shot) {
            shot = true;
            await screenshot(page, 'projects-rollout-1280x800');
          }
        }
        const revs = await service.locator('td[data-label="Revision"]').allTextContents();
        const done = text === undefined || /Rollout done/.test(text);
        return done && seen.length > 0 && revs.length === 2 && revs.every((r) => r.startsWith('new'))
          ? true
          : undefined;
      },
      120_000,
      200,
    );
    const r = await rolling;
    assert.equal(r.code, 0, `up v2: ${r.stderr}${r.stdout}`);
    console.log(`# rollout as the page showed it: ${seen.join(' | ')}`);
    // It ran, counted old and new replicas and said which one it waited on.
    assert.ok(
      seen.some((t) => /Rollout running/.test(t)),
      seen.join(' | '),
    );
    assert.ok(
      seen.some((t) => /old [12] · new [01]/.test(t)),
      seen.join(' | '),
    );
    assert.ok(sawWaiting, `never said which replica it waited on: ${seen.join(' | ')}`);
    assert.ok(await settled(f.agent, PROJECT, 'v2', 2), 'the CLI sees 2 healthy v2 replicas');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the services view shows each replica with its HAProxy server state and sessions', async () => {
    const { page, problems } = await f.open('#/services');
    const section = page.locator(`section[data-service="${PROJECT}/web"]`);
    await section.waitFor({ timeout: 10_000 });
    const states = await pollUntil(
      'HAProxy state for both replicas',
      async () => {
        const cells = await section.locator('td.haproxy-state').allTextContents();
        return cells.length === 2 && cells.every((c) => /^UP, \d+ sessions/.test(c)) ? cells : undefined;
      },
      15_000,
    ).catch(async (err: unknown) => {
      const status = await inPage(
        page,
        `fetch('/v1/dashboard/status', { headers: { 'x-berth-session-key': localStorage.getItem('berth.sessionKey') } }).then((r) => r.text())`,
      );
      const cells = await section.locator('tr').allTextContents();
      throw new Error(`${String(err)}; rows: ${JSON.stringify(cells)}; status: ${String(status)}`);
    });
    assert.equal(states.length, 2);
    await screenshot(page, 'services-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('scale from the page: the dialog takes the count (a bad one is refused there) and the CLI sees 3', async () => {
    const { page, problems } = await f.open('#/projects');
    const scale = page.locator(`section[data-project="${PROJECT}"] button[data-action="scale"]`);
    await scale.click();
    const input = page.locator('dialog.confirm input');
    await input.fill('three');
    await page.keyboard.press('Enter');
    assert.match(
      (await page.locator('dialog.confirm .dialog-error').textContent()) ?? '',
      /replicas: must be a whole number/,
    );
    await input.fill('3');
    await page.keyboard.press('Enter');
    await page.locator('dialog.confirm').waitFor({ state: 'detached' });
    await pollUntil('3 healthy v2 replicas', () => settled(f.agent, PROJECT, 'v2', 3), 60_000);
    await page
      .locator(`section[data-project="${PROJECT}"] .replica-counts`, { hasText: '3/3 running' })
      .waitFor({ timeout: 10_000 });
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('roll back from the page: confirmed, the rollback shows, and the CLI sees v1 again', async () => {
    const { page, problems } = await f.open('#/projects');
    await page.locator(`section[data-project="${PROJECT}"] button[data-action="rollback"]`).click();
    const dialog = page.locator('dialog.confirm');
    assert.match((await dialog.textContent()) ?? '', new RegExp(`Roll ${PROJECT}/web back`));
    // Every rollout text the page shows, recorded by the page itself (the CLI polls below are slow).
    await inPage(
      page,
      `(() => { window.__rollouts = []; new MutationObserver(() => {
          const t = document.querySelector('.rollout')?.textContent;
          if (t && window.__rollouts.at(-1) !== t) window.__rollouts.push(t);
        }).observe(document.body, { subtree: true, childList: true, characterData: true }); })()`,
    );
    await dialog.locator('button.danger').click();
    await pollUntil('3 healthy v1 replicas', () => settled(f.agent, PROJECT, 'v1', 3), 120_000);
    const shown = await inPage<string[]>(page, 'window.__rollouts');
    assert.ok(
      shown.some((t) => /^Rollback running/.test(t)),
      `the page showed the rollback running: ${shown.join(' | ')}`,
    );
    const now = await replicas(f.agent, PROJECT);
    assert.deepEqual(
      now.map((x) => x.tag),
      ['v1', 'v1', 'v1'],
    );
    assert.deepEqual(problems.errors, []);
    await page.close();
  });
});
