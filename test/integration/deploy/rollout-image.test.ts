/**
 * Smoke test of the rollout tests' image and load (test/harness/http-image.ts,
 * load.ts): v1 answers its version and turns healthy, v2-sick answers its
 * version but turns unhealthy, a stop takes well under the grace period (the
 * image exits on SIGTERM), and the load holds its rate with every response
 * kept.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { HTTP_PORT, loadHttpImages } from '../../harness/http-image.js';
import { startLoad } from '../../harness/load.js';
import { freePorts } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let agent: TestAgent;
let dir: string;

before(async () => {
  dir = await tempDir('http-image-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1', 'v2-sick']);
});

after(async () => {
  await agent?.stop();
  if (dir) await removeDir(dir);
});

async function health(name: string): Promise<string> {
  const r = await agent.cli(['ps', '-a', '--format', 'json', '-f', `name=${name}`]);
  return (JSON.parse(r.stdout) as Array<{ health: string }>)[0]?.health ?? 'gone';
}

test('v1 is healthy and answers v1; v2-sick answers v2 and turns unhealthy; both stop at once on SIGTERM', async () => {
  const [p1, p2] = await freePorts(2);
  for (const [tag, port] of [
    ['v1', p1],
    ['v2-sick', p2],
  ] as const) {
    const r = await agent.cli([
      'run',
      '-d',
      '--name',
      `img-${tag}`,
      '-p',
      `127.0.0.1:${port}:${HTTP_PORT}`,
      `berth-test/web:${tag}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  await pollUntil(
    'v1 healthy',
    async () => ((await health('img-v1')) === 'healthy' ? true : undefined),
    15_000,
  );
  await pollUntil(
    'v2-sick unhealthy',
    async () => ((await health('img-v2-sick')) === 'unhealthy' ? true : undefined),
    15_000,
  );
  assert.equal((await (await fetch(`http://127.0.0.1:${p1}/`)).text()).trim(), 'v1');
  assert.equal((await (await fetch(`http://127.0.0.1:${p2}/`)).text()).trim(), 'v2');
  assert.equal((await fetch(`http://127.0.0.1:${p2}/healthz`)).status, 404);

  const load = startLoad({ url: `http://127.0.0.1:${p1}/`, rate: 200, maxRequests: 400, maxMs: 5000 });
  await new Promise((r) => setTimeout(r, 2500));
  const result = await load.stop();
  assert.equal(result.requests + result.skipped, 400);
  assert.equal(result.failed, 0);
  // Never above the rate asked (no bursts); below it only when this shared machine stalls the test process.
  assert.ok(result.rate <= 210 && result.rate > 100, `rate ${result.rate}`);
  assert.ok(result.samples.every((s) => s.body === 'v1' && s.status === 200));

  const t = Date.now();
  const stop = await agent.cli(['stop', 'img-v1', 'img-v2-sick']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(Date.now() - t < 8000, `stop took ${Date.now() - t} ms (the grace period is 10 s)`);
});
