/**
 * `kill -9` of the agent mid-rollout (issue 14), at three phases: just after
 * a new replica started, just after one got ready, just after an old one was
 * retired, each before the state recording it was saved
 * (BERTH_TEST_ROLLOUT_CRASH_AT, src/deploy/README.md). The restarted agent
 * must converge to 3 healthy replicas of the new tag with no duplicate
 * (never a 4th replica left, no index twice), and capacity is never lost:
 * HAProxy keeps serving while no agent runs, so the load sees 0 failures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RolloutCrashPoint } from '../../../src/deploy/rollout-crash.js';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { type HttpTag, loadHttpImages } from '../../harness/http-image.js';
import { describeFailures, startLoad } from '../../harness/load.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { replicas, settled, up, type WebProject, waitServing, writeWebProject } from './rollout-helpers.js';

const RATE = 200;

let agent: TestAgent;
let dir: string;
let web: WebProject;

before(async () => {
  dir = await tempDir('rollout-crash-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1', 'v2', 'v3']);
  // monitor 0: the crash points are the steps themselves, and a 2 s window per replica only lengthens the test.
  web = await writeWebProject(dir, { name: 'crash', lbPort: await freePort(), update: { monitor: '0s' } });
  const r = await up(agent, web, 'v1');
  assert.equal(r.code, 0, `up v1: ${r.stderr}${r.stdout}`);
  await pollUntil('3 healthy v1 replicas', () => settled(agent, 'crash', 'v1', 3), 30_000);
  await waitServing(web.lbPort, 'v1');
});

after(async () => {
  await agent?.cli(['down', '-p', 'crash']).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

/** What the project and the agent say, for a failure message. */
async function diagnosis(): Promise<string> {
  const ps = await replicas(agent, 'crash').catch((e: unknown) => String(e));
  const services = await agent
    .cli(['services', '-p', 'crash'])
    .catch((e: unknown) => ({ stdout: String(e) }));
  const warnings = agent
    .process()
    .output()
    .split('\n')
    .filter((l) => /"level":(40|50)/.test(l))
    .slice(-8)
    .join('\n');
  return `replicas: ${JSON.stringify(ps)}\nservices:\n${services.stdout}\nagent warnings:\n${warnings}`;
}

const phases: Array<{ at: RolloutCrashPoint; from: HttpTag; to: HttpTag }> = [
  { at: 'after-new-started', from: 'v1', to: 'v2' },
  { at: 'after-new-ready', from: 'v2', to: 'v3' },
  { at: 'after-old-retired', from: 'v3', to: 'v1' },
];

describe('agent killed mid-rollout', { concurrency: false }, () => {
  for (const { at, from, to } of phases) {
    test(`kill -9 ${at} (${from} → ${to}): the restarted agent converges, no duplicates, no lost capacity`, async () => {
      // An agent that kills itself at this point of the next rollout (the one running now goes by
      // SIGKILL too: what it leaves is what a crash leaves, and the rollout is the second crash).
      await agent.kill9();
      await agent.restart({ agentEnv: { BERTH_TEST_ROLLOUT_CRASH_AT: at } });
      await waitServing(web.lbPort, from);
      const load = startLoad({
        url: `http://127.0.0.1:${web.lbPort}/`,
        rate: RATE,
        maxRequests: RATE * 120,
        maxMs: 120_000,
      });
      const r = await up(agent, web, to, ['-d']);
      assert.equal(r.code, 0, `up -d ${to}: ${r.stderr}`);
      const exit = await Promise.race([
        agent.process().exited,
        new Promise<undefined>((res) => setTimeout(() => res(undefined), 60_000)),
      ]);
      assert.ok(exit !== undefined, `the agent did not reach ${at}`);
      assert.equal(exit.signal, 'SIGKILL', `the agent died by its crash hook: ${JSON.stringify(exit)}`);
      assert.match(
        agent.process().output(),
        new RegExp(`BERTH_TEST_ROLLOUT_CRASH_AT=${at}: the agent kills itself here`),
      );
      await agent.restart({ agentEnv: { BERTH_TEST_ROLLOUT_CRASH_AT: '' } });
      // While it converges, no replica is ever held twice and there are never more than 3 + 1 (start-first).
      let most = 0;
      let twice = '';
      const final = await pollUntil(
        `3 healthy ${to} replicas after the restart`,
        async () => {
          const all = await replicas(agent, 'crash');
          most = Math.max(most, all.filter((x) => x.state === 'running').length);
          if (new Set(all.map((x) => x.index)).size !== all.length) twice ||= JSON.stringify(all);
          return settled(agent, 'crash', to, 3);
        },
        90_000,
        200,
      ).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${await diagnosis()}`);
      });
      assert.equal(twice, '', 'no index held by two replicas at once');
      await waitServing(web.lbPort, to);
      const result = await load.stop();
      assert.equal(result.failed, 0, `failed requests: ${describeFailures(result)}`);
      assert.equal(result.non2xx, 0, `non-2xx: ${describeFailures(result)}`);
      assert.ok(
        most <= 4,
        `at most 4 replicas ran while converging (start-first, parallelism 1), saw ${most}`,
      );
      assert.deepEqual(
        final.map((x) => x.tag),
        [to, to, to],
      );
    });
  }
});
