/**
 * Rolling updates as a user sees them (issue 14), through the CLI against a
 * real agent with its real HAProxy, under constant load: 3 replicas of the
 * HTTP test service behind one frontend, rolled to a new tag (0 failed
 * requests, 0 non-2xx, only the new version after the rollout), and to a tag
 * whose health check fails (rolled back automatically, the old version
 * served throughout, `up --wait` non-zero); between them `berth rollback`
 * returns to v1 with the same care.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { loadHttpImages } from '../../harness/http-image.js';
import { describeFailures, startLoad } from '../../harness/load.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { replicas, settled, up, type WebProject, waitServing, writeWebProject } from './rollout-helpers.js';

/** The load: 250 requests/s (the issue asks ≥ 200), bounded in count and time. */
const RATE = 250;
const MAX_MS = 90_000;

let agent: TestAgent;
let dir: string;
let web: WebProject;

before(async () => {
  dir = await tempDir('rollout-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1', 'v2', 'v2-sick']);
  web = await writeWebProject(dir, { name: 'roll', lbPort: await freePort() });
  const r = await up(agent, web, 'v1');
  assert.equal(r.code, 0, `up v1: ${r.stderr}${r.stdout}`);
  await pollUntil('3 healthy v1 replicas', () => settled(agent, 'roll', 'v1', 3), 30_000);
  await waitServing(web.lbPort, 'v1');
});

after(async () => {
  await agent?.cli(['down', '-p', 'roll']).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

describe('rolling update under load', { concurrency: false }, () => {
  test('v1 → v2, start-first, parallelism 1: 0 failed, 0 non-2xx, only v2 once up --wait returned', async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${web.lbPort}/`,
      rate: RATE,
      maxRequests: RATE * 90,
      maxMs: MAX_MS,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await up(agent, web, 'v2');
    const doneAt = Date.now();
    assert.equal(r.code, 0, `up v2: ${r.stderr}${r.stdout}`);
    await new Promise((res) => setTimeout(res, 2000));
    const result = await load.stop();
    assert.ok(result.rate >= 200, `load ran at ${result.rate.toFixed(0)} req/s`);
    assert.equal(result.failed, 0, `failed requests: ${describeFailures(result)}`);
    assert.equal(result.non2xx, 0, `non-2xx: ${describeFailures(result)}`);
    const late = result.samples.filter((s) => s.sentAt > doneAt);
    assert.ok(late.length > RATE, 'load after the rollout');
    assert.deepEqual(
      [...new Set(late.map((s) => s.body))],
      ['v2'],
      'every response after the rollout is from v2',
    );
    const seen = new Set(result.samples.map((s) => s.body));
    assert.ok(seen.has('v1') && seen.has('v2'), `both versions answered during the rollout: ${[...seen]}`);
    const now = await replicas(agent, 'roll');
    assert.equal(now.length, 3, `replicas after: ${JSON.stringify(now)}`);
    assert.ok(now.every((x) => x.tag === 'v2' && x.state === 'running' && x.health === 'healthy'));
    assert.equal(new Set(now.map((x) => x.index)).size, 3, 'distinct indexes');
  });

  test('berth rollback web --wait: back to v1 with the same care, 0 failed, only v1 afterwards', async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${web.lbPort}/`,
      rate: RATE,
      maxRequests: RATE * 90,
      maxMs: MAX_MS,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await agent.cli(['rollback', 'web', '-p', 'roll', '--wait'], { timeoutMs: 180_000 });
    const doneAt = Date.now();
    assert.equal(r.code, 0, `rollback: ${r.stderr}${r.stdout}`);
    await new Promise((res) => setTimeout(res, 1000));
    const result = await load.stop();
    assert.equal(result.failed, 0, `failed requests: ${describeFailures(result)}`);
    assert.equal(result.non2xx, 0, `non-2xx: ${describeFailures(result)}`);
    const late = result.samples.filter((s) => s.sentAt > doneAt);
    assert.deepEqual(
      [...new Set(late.map((s) => s.body))],
      ['v1'],
      'every response after the rollback is from v1',
    );
    const now = await settled(agent, 'roll', 'v1', 3);
    assert.ok(now !== undefined, `3 healthy v1 replicas: ${JSON.stringify(await replicas(agent, 'roll'))}`);
  });

  test('v1 → v2-sick: rolled back automatically, v1 served throughout with 0 failed, up --wait exits non-zero', async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${web.lbPort}/`,
      rate: RATE,
      maxRequests: RATE * 90,
      maxMs: MAX_MS,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await up(agent, web, 'v2-sick');
    assert.notEqual(r.code, 0, `up --wait of a sick version must fail: ${r.stdout}`);
    assert.match(`${r.stderr}${r.stdout}`, /rolled[- ]back/i);
    const final = await pollUntil(
      '3 healthy v1 replicas after the rollback',
      () => settled(agent, 'roll', 'v1', 3),
      30_000,
    );
    await new Promise((res) => setTimeout(res, 1000));
    const result = await load.stop();
    assert.ok(result.rate >= 200, `load ran at ${result.rate.toFixed(0)} req/s`);
    assert.equal(result.failed, 0, `failed requests: ${describeFailures(result)}`);
    assert.equal(result.non2xx, 0, `non-2xx: ${describeFailures(result)}`);
    assert.deepEqual([...new Set(result.samples.map((s) => s.body))], ['v1'], 'only v1 answered');
    assert.ok(final.every((x) => x.tag === 'v1'));
  });

  test('stop-first, v1 → v2: never more than 3 running, 0 failed (the drain comes before each stop)', async () => {
    const stopFirst = await writeWebProject(dir, {
      name: 'roll',
      lbPort: web.lbPort,
      update: { order: 'stop-first', monitor: '1s' },
    });
    const load = startLoad({
      url: `http://127.0.0.1:${web.lbPort}/`,
      rate: RATE,
      maxRequests: RATE * 90,
      maxMs: MAX_MS,
    });
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const all = await replicas(agent, 'roll');
        most = Math.max(most, all.filter((x) => x.state === 'running').length);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    const r = await up(agent, stopFirst, 'v2');
    const doneAt = Date.now();
    watching = false;
    await watch;
    assert.equal(r.code, 0, `up v2: ${r.stderr}${r.stdout}`);
    await new Promise((res) => setTimeout(res, 1000));
    const result = await load.stop();
    assert.equal(result.failed, 0, `failed requests: ${describeFailures(result)}`);
    assert.equal(result.non2xx, 0, `non-2xx: ${describeFailures(result)}`);
    assert.ok(most <= 3, `at most 3 replicas ran (stop-first), saw ${most}`);
    const late = result.samples.filter((s) => s.sentAt > doneAt);
    assert.deepEqual(
      [...new Set(late.map((s) => s.body))],
      ['v2'],
      'every response after the rollout is from v2',
    );
    const now = await replicas(agent, 'roll');
    assert.deepEqual(
      now.map((x) => x.index),
      [1, 2, 3],
      'stop-first reuses each retired index',
    );
  });
});
