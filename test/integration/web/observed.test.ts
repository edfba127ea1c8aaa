/**
 * The dashboard of an agent in `--mode both`: it lists the containers it
 * observes beside its own, says where each comes from, filters by source
 * with the keyboard, and offers no action on an observed container (the API
 * refuses them), while its own container's stop still works.
 *
 * Set up as test/integration/observe/ps.test.ts does: agent A (run mode)
 * runs two containers as an engine would; one is laid out as Docker lays one
 * out (config.v2.json under a Docker root, with its json-file output), so
 * the dashboard's agent (B, `--mode both`, told not to skip /berth, where A's
 * cgroups are) sees it as `docker`; the other has no records and is a bare
 * `cgroup` container. B runs one container of its own.
 *
 * Logs of an observed container: whatever the agent answers. When it serves
 * them the pane shows lines; when it refuses (an error naming the reason,
 * as `berth logs` prints it), the pane shows that message, and the one
 * refused request of the page is that logs route's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import type { TestAgent } from '../../harness/agent.js';
import { inPage, screenshot } from '../../harness/browser.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';
import { IMAGE as A_IMAGE, agentWithImage, ok } from '../logs-e2e/e2e.js';
import { IMAGE, startWebFixture, type WebFixture } from './fixture.js';

const PHONE = { width: 390, height: 844 };
const tag = randomBytes(3).toString('hex');
const DK = `web-dk-${tag}`;
const BARE = `web-bare-${tag}`;
const OWN = `web-own-${tag}`;
const DOCKER_LINE = `hello from docker ${tag}`;

let a: TestAgent | undefined;
let f: WebFixture | undefined;
let dir = '';

const fx = () => f as WebFixture;

async function descriptor(agent: TestAgent, name: string): Promise<ContainerDescriptor> {
  const [d] = JSON.parse(await ok(agent, ['inspect', name])) as ContainerDescriptor[];
  assert.ok(d, `inspect ${name}`);
  return d;
}

/**
 * What the agent says to a tail of `name`'s logs: undefined when it serves
 * them, else its error message (`berth logs` prints it, and so must the pane).
 */
async function logsRefusal(name: string): Promise<string | undefined> {
  const r = await fx().agent.cli(['logs', '--tail', '1', name]);
  console.log(`# logs of ${name}: ${r.code === 0 ? 'served' : `refused: ${r.stderr.trim()}`}`);
  if (r.code === 0) return undefined;
  return r.stderr.trim();
}

/** The page's problems, less the refused logs tail of `refused` containers (the pane shows why). */
function unexpected(errors: string[], refused: string[]): string[] {
  return errors.filter(
    (e) =>
      !refused.some((n) => new RegExp(`^http 4\\d\\d: GET .*/v1/containers/${n}/logs\\?tail=1$`).test(e)),
  );
}

async function rowsShown(page: Page): Promise<Array<{ name: string; source: string }>> {
  return inPage(
    page,
    `[...document.querySelectorAll('table.containers tbody tr[data-name]')].map((tr) => ({ name: tr.dataset.name, source: tr.dataset.source }))`,
  );
}

describe('web dashboard of an agent in --mode both: observed containers, read-only', () => {
  before(async () => {
    a = await agentWithImage();
    await ok(a, ['run', '-d', '--name', DK, A_IMAGE, 'sh', '-c', 'while :; do sleep 1; done']);
    await ok(a, ['run', '-d', '--name', BARE, A_IMAGE, 'sleep', '300']);
    const dk = await descriptor(a, DK);
    dir = await tempDir('web-observed-');
    const rec = join(dir, 'docker/containers', dk.id);
    await mkdir(rec, { recursive: true });
    const now = new Date().toISOString();
    await writeFile(
      join(rec, 'config.v2.json'),
      JSON.stringify({
        ID: dk.id,
        Name: `/${DK}`,
        Created: now,
        State: { Running: true, Pid: dk.pid ?? 0, StartedAt: now },
        Config: { Image: A_IMAGE, Labels: {}, Env: ['PATH=/bin'] },
        Image: `sha256:${'ab'.repeat(32)}`,
      }),
    );
    await writeFile(
      join(rec, 'hostconfig.json'),
      JSON.stringify({ LogConfig: { Type: 'json-file', Config: {} } }),
    );
    // Its output as dockerd's json-file driver writes it.
    await writeFile(
      join(rec, `${dk.id}-json.log`),
      `${JSON.stringify({ log: `${DOCKER_LINE}\n`, stream: 'stdout', time: now })}\n`,
    );
    await mkdir(join(dir, 'var/log'), { recursive: true });
    f = await startWebFixture({
      args: [
        '--mode',
        'both',
        '--host-log-root',
        join(dir, 'var/log'),
        '--docker-root',
        join(dir, 'docker'),
        '--observe-skip-cgroups',
        '/nothing',
        '--observe-rescan-interval',
        '1s',
        '--haproxy',
        'off',
      ],
    });
    await f.ok([
      'run',
      '-d',
      '--name',
      OWN,
      IMAGE,
      'sh',
      '-c',
      "trap 'exit 0' TERM; while :; do sleep 1; done",
    ]);
    // B's observer finds A's containers by their cgroups (at start, else at the next rescan).
    await pollUntil(
      'both observed containers listed by B',
      async () => {
        const list = JSON.parse(await fx().ok(['ps', '--format', 'json'])) as ContainerDescriptor[];
        const names = list.map((c) => c.name);
        return names.includes(DK) && list.some((c) => c.source === 'cgroup') ? true : undefined;
      },
      20_000,
      200,
    );
  });

  after(async () => {
    await f?.close();
    await a?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the containers view lists observed containers with their source and no action on them', async () => {
    const bareId = (await descriptor(a as TestAgent, BARE)).id;
    const { page, problems } = await fx().open('#/containers');
    await page.waitForSelector(`tr[data-name="${DK}"]`, { timeout: 10_000 });
    await page.waitForSelector(`tr[data-name="${OWN}"]`);
    const heads = await page.locator('table.containers thead th').allTextContents();
    assert.deepEqual(heads.slice(0, 3), ['Name', 'Source', 'State']);
    const source = (name: string) =>
      page.locator(`tr[data-name="${name}"] td[data-label="Source"]`).textContent();
    assert.equal(await source(DK), 'docker');
    assert.equal(await source(OWN), 'berth');
    // The bare one is named by the observer (its id when it has no record); found by its source.
    const bare = await rowsShown(page).then((rows) => rows.filter((r) => r.source === 'cgroup'));
    const observedBare = (
      JSON.parse(await fx().ok(['ps', '--format', 'json', '--source', 'cgroup'])) as ContainerDescriptor[]
    ).find((c) => c.id === bareId);
    assert.ok(observedBare, 'B lists the bare container as cgroup');
    assert.ok(
      bare.some((r) => r.name === observedBare.name),
      `cgroup rows ${JSON.stringify(bare)}`,
    );
    // No stop, start or restart on an observed row: it says why and what to use; its logs stay a link.
    const dkRow = page.locator(`tr[data-name="${DK}"]`);
    assert.equal(await dkRow.locator('button').count(), 0);
    const note = dkRow.locator('.readonly');
    assert.equal(await note.textContent(), 'read-only: use docker');
    assert.match((await note.getAttribute('title')) ?? '', /observed, not run by berth: .*with docker/);
    assert.equal(await dkRow.locator('a', { hasText: 'Logs' }).count(), 1);
    assert.equal(
      await page.locator(`tr[data-name="${observedBare.name}"] .readonly`).textContent(),
      'read-only: use the engine that started it',
    );
    // The own container keeps its actions.
    assert.equal(await page.locator(`tr[data-name="${OWN}"] button[data-action="stop"]`).count(), 1);
    await screenshot(page, 'observed-containers-1280x800');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the source filter is a keyboard control that narrows the list and stays in the address', async () => {
    const { page, problems } = await fx().open('#/containers');
    await page.waitForSelector(`tr[data-name="${DK}"]`, { timeout: 10_000 });
    const filter = page.locator('#source-filter');
    assert.equal(await page.locator('label[for="source-filter"]').textContent(), 'Source');
    // Reached by Tab from the content, then chosen with the arrow keys.
    await inPage(page, `document.getElementById('content').focus()`);
    await page.keyboard.press('Tab');
    assert.equal(await inPage(page, 'document.activeElement?.id'), 'source-filter');
    await page.keyboard.press('ArrowDown'); // all → berth
    await page.keyboard.press('ArrowDown'); // berth → docker
    await page.waitForFunction(`location.hash === '#/containers?source=docker'`);
    assert.deepEqual(await rowsShown(page), [{ name: DK, source: 'docker' }]);
    // Focus stays on the filter; the option says how many it keeps.
    assert.equal(await inPage(page, 'document.activeElement?.id'), 'source-filter');
    assert.equal(await filter.locator('option:checked').textContent(), 'docker (1)');
    await filter.selectOption('berth');
    await pollUntil(
      'only berth rows',
      async () => {
        const rows = await rowsShown(page);
        return rows.length > 0 && rows.every((r) => r.source === 'berth') ? rows : undefined;
      },
      5000,
    );
    assert.ok((await rowsShown(page)).some((r) => r.name === OWN));
    await filter.selectOption('cgroup');
    await pollUntil(
      'only cgroup rows',
      async () => {
        const rows = await rowsShown(page);
        return rows.length > 0 && rows.every((r) => r.source === 'cgroup') ? rows : undefined;
      },
      5000,
    );
    // A reload keeps the filter (it is in the address).
    await page.reload();
    await page.waitForSelector('table.containers tbody tr[data-name]', { timeout: 10_000 });
    assert.equal(await filter.inputValue(), 'cgroup');
    assert.ok((await rowsShown(page)).every((r) => r.source === 'cgroup'));
    await filter.selectOption('');
    await page.waitForSelector(`tr[data-name="${OWN}"]`);
    assert.ok((await rowsShown(page)).some((r) => r.name === DK));
    assert.equal(await inPage(page, 'location.hash'), '#/containers');
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the own container stops from the page in both mode', async () => {
    const { page, problems } = await fx().open('#/containers');
    const stop = page.locator(`tr[data-name="${OWN}"] button[data-action="stop"]`);
    await stop.waitFor({ timeout: 10_000 });
    await stop.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog.confirm').waitFor();
    await page.keyboard.press('Enter');
    await pollUntil(
      'the CLI sees it exited',
      async () => ((await descriptor(fx().agent, OWN)).state === 'exited' ? true : undefined),
      20_000,
    );
    await page.locator(`tr[data-name="${OWN}"] button[data-action="start"]`).waitFor({ timeout: 5000 });
    // The observed ones were not touched: A still runs them.
    assert.equal((await descriptor(a as TestAgent, DK)).state, 'running');
    assert.equal((await descriptor(a as TestAgent, BARE)).state, 'running');
    await fx().ok(['start', OWN]);
    assert.deepEqual(problems.errors, []);
    await page.close();
  });

  test('the detail view of an observed container says read-only, charts it, and shows its logs or why not', async () => {
    const refused = await logsRefusal(DK);
    const { page, problems } = await fx().open(`#/containers/${DK}`);
    const note = page.locator('.detail-actions .readonly-note');
    await note.waitFor({ timeout: 10_000 });
    assert.match((await note.textContent()) ?? '', /observed, read-only: managed by docker\b.*use docker/);
    assert.equal(await page.locator('.detail-actions button').count(), 0);
    assert.match((await page.textContent('dl.facts')) ?? '', /Source\s*docker/);
    // Its charts move with the stats stream, as an own container's do (its series named).
    const cpu = page.locator('figure[data-chart="cpu"]');
    await pollUntil(
      'a chart series for the observed container',
      async () =>
        Number(await cpu.getAttribute('data-points')) >= 2 && (await cpu.textContent())?.includes(DK)
          ? true
          : undefined,
      15_000,
    );
    const pane = page.locator('.detail-logs .log-pane');
    if (refused === undefined) {
      await pane.locator('.log-rows .row', { hasText: DOCKER_LINE }).waitFor({ timeout: 10_000 });
      assert.equal(await pane.locator('.log-error').isHidden(), true);
    } else {
      // The agent's reason, as `berth logs` prints it, in the pane; no stream retried for nothing.
      const shown = pane.locator('.log-error');
      await shown.waitFor({ timeout: 10_000 });
      const text = ((await shown.textContent()) ?? '').trim();
      assert.ok(
        text.length > 0 && refused.includes(text),
        `pane says ${JSON.stringify(text)}, berth logs ${refused}`,
      );
      assert.equal(await pane.getAttribute('data-stream'), 'refused');
    }
    await screenshot(page, 'observed-container-1280x800');
    assert.deepEqual(unexpected(problems.errors, refused === undefined ? [] : [DK]), []);
    await page.close();
  });

  test('a bare cgroup container: logs pane in the log viewer shows the agent’s answer', async () => {
    const bareId = (await descriptor(a as TestAgent, BARE)).id;
    const list = JSON.parse(
      await fx().ok(['ps', '--format', 'json', '--source', 'cgroup']),
    ) as ContainerDescriptor[];
    const name = list.find((c) => c.id === bareId)?.name ?? '';
    assert.ok(name);
    const refused = await logsRefusal(name);
    const { page, problems } = await fx().open(`#/logs?container=${encodeURIComponent(name)}`);
    const pane = page.locator('.log-pane');
    if (refused === undefined) {
      await page.waitForSelector('.log-pane[data-stream="open"]', { timeout: 10_000 });
    } else {
      const shown = pane.locator('.log-error');
      await shown.waitFor({ timeout: 10_000 });
      const text = ((await shown.textContent()) ?? '').trim();
      assert.ok(
        text.length > 0 && refused.includes(text),
        `pane says ${JSON.stringify(text)}, berth logs ${refused}`,
      );
      // No stream is opened (and retried) for a tail the agent refused.
      assert.equal(await pane.getAttribute('data-stream'), 'refused');
    }
    await screenshot(page, 'observed-logs-1280x800');
    assert.deepEqual(
      unexpected(problems.errors, refused === undefined ? [] : [encodeURIComponent(name)]),
      [],
    );
    await page.close();
    // Merged with berth's own container: the refused one is named with its reason, the other streams.
    const merged = await fx().open(`#/logs?container=${OWN}&container=${encodeURIComponent(name)}`);
    await merged.page.waitForSelector('.log-pane[data-stream="open"]', { timeout: 10_000 });
    const mergedError = merged.page.locator('.log-pane .log-error');
    if (refused === undefined) assert.equal(await mergedError.isHidden(), true);
    else
      assert.ok(refused.includes(((await mergedError.textContent()) ?? '').replace(`${name}: `, '').trim()));
    if (refused !== undefined)
      assert.match((await mergedError.textContent()) ?? '', new RegExp(`^${name}: `));
    assert.deepEqual(
      unexpected(merged.problems.errors, refused === undefined ? [] : [encodeURIComponent(name)]),
      [],
    );
    await merged.page.close();
  });

  test('readable at a phone width (390×844): source and read-only note in the cards, no horizontal overflow', async () => {
    for (const [hash, shot] of [
      ['#/containers', 'observed-containers'],
      [`#/containers/${DK}`, 'observed-container'],
    ] as const) {
      const refused = shot === 'observed-container' ? await logsRefusal(DK) : undefined;
      const { page, problems } = await fx().open(hash, PHONE);
      await page.waitForSelector('body[data-ready]');
      if (shot === 'observed-containers') {
        const card = page.locator(`tr[data-name="${DK}"]`);
        await card.waitFor({ timeout: 10_000 });
        assert.ok(await card.locator('td[data-label="Source"]').isVisible());
        assert.ok(await card.locator('.readonly').isVisible());
        assert.ok(await page.locator('#source-filter').isVisible());
      } else {
        await page.locator('.readonly-note').waitFor({ timeout: 10_000 });
      }
      await page.waitForTimeout(300);
      const overflow = await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
      await screenshot(page, `${shot}-390x844`);
      assert.ok(overflow <= 0, `${shot}: the page is ${overflow}px wider than the phone`);
      assert.deepEqual(unexpected(problems.errors, refused === undefined ? [] : [DK]), [], shot);
      await page.close();
    }
  });
});
