/**
 * `npm run bench -- rollout [RUNS] [RATE]`: a 3-replica HTTP service (the
 * test image, 1 s health interval) behind the agent's managed HAProxy under a
 * fixed request rate (default 250/s, open loop). Each run rolls it to the
 * other tag (start-first, parallelism 1, monitor 1 s) with `up -d --wait`,
 * then `kill -9`s one replica's process, then times `up -d --wait` of a
 * 20-service project (one replica each, 1 s health interval) from the loaded
 * image. Reports medians over the runs:
 *   failed_requests  no response (refused, reset, timeout) over the whole run, target 0
 *   non_2xx          target 0
 *   rollout_s        `up --wait` of the roll, from the CLI's start to its exit
 *   heal_s           kill -9 → a healthy replacement in rotation in the HAProxy backend
 *                    (3 servers running, the killed one's process gone), target ≤ 3 s
 *   up_20_s          `up --wait` of the 20-service project, target ≤ 10 s
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestAgent } from '../harness/agent.js';
import { startAgent } from '../harness/agent.js';
import { HTTP_IMAGE, HTTP_PORT, type HttpTag, loadHttpImages } from '../harness/http-image.js';
import { describeFailures, startLoad } from '../harness/load.js';
import { freePort } from '../harness/ports.js';
import { pollUntil } from '../harness/proc.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import {
  replicas,
  serversInRotation,
  settled,
  up,
  writeWebProject,
} from '../integration/deploy/rollout-helpers.js';
import { median, round } from './_stats.js';

export const description =
  'rolling update + kill -9 heal under load (failed requests, rollout_s, heal_s), up of 20 services';

const log = (s: string): void => void process.stderr.write(`rollout: ${s}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, (performance.now() - t) / 1000];
}

/** kill -9 of one replica's process; resolves with the seconds until a healthy replacement is in rotation. */
async function killAndHeal(agent: TestAgent, project: string, tag: string): Promise<number> {
  const before = await replicas(agent, project);
  const victim = before.find((r) => r.index === before[0]?.index);
  if (victim?.pid === undefined) throw new Error(`no replica to kill: ${JSON.stringify(before)}`);
  const t0 = performance.now();
  process.kill(victim.pid, 'SIGKILL');
  await pollUntil(
    'a healthy replacement in the HAProxy backend',
    async () => {
      const now = await replicas(agent, project);
      const healthy = now.filter((r) => r.state === 'running' && r.health === 'healthy' && r.tag === tag);
      if (healthy.length !== 3 || healthy.some((r) => r.pid === victim.pid)) return undefined;
      const rotation = new Set(await serversInRotation(agent));
      return healthy.every((r) => r.endpoint !== undefined && rotation.has(r.endpoint)) ? true : undefined;
    },
    30_000,
    20,
  );
  return (performance.now() - t0) / 1000;
}

async function up20(agent: TestAgent, dir: string, run: number): Promise<number> {
  const name = `bench20r${run}`;
  const services = Array.from(
    { length: 20 },
    (_v, i) => `  s${i + 1}:
    image: ${HTTP_IMAGE}:v1
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${HTTP_PORT}/healthz"]
      interval: 1s
      timeout: 1s
      retries: 2
`,
  ).join('');
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `name: ${name}\nservices:\n${services}`);
  const [r, s] = await timed(() => agent.cli(['up', '-f', file, '-d', '--wait'], { timeoutMs: 120_000 }));
  if (r.code !== 0) throw new Error(`up of 20 services: ${r.stderr}${r.stdout}`);
  const down = await agent.cli(['down', '-p', name], { timeoutMs: 120_000 });
  if (down.code !== 0) throw new Error(`down of 20 services: ${down.stderr}`);
  return s;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const runs = Math.max(1, Number(args[0] ?? 1));
  const rate = Math.max(200, Number(args[1] ?? 250));
  const dir = await tempDir('bench-rollout');
  const agent = await startAgent();
  try {
    await loadHttpImages(agent.cli, dir, ['v1', 'v2']);
    const web = await writeWebProject(dir, {
      name: 'benchroll',
      lbPort: await freePort(),
      update: { monitor: '1s' },
    });
    const first = await up(agent, web, 'v1');
    if (first.code !== 0) throw new Error(`up v1: ${first.stderr}${first.stdout}`);
    await pollUntil('3 healthy v1 replicas', () => settled(agent, 'benchroll', 'v1', 3), 60_000);
    const rollouts: number[] = [];
    const heals: number[] = [];
    const ups: number[] = [];
    let failed = 0;
    let non2xx = 0;
    let requests = 0;
    let skipped = 0;
    let achieved = Number.POSITIVE_INFINITY;
    let tag: HttpTag = 'v1';
    for (let i = 0; i < runs; i++) {
      const next: HttpTag = tag === 'v1' ? 'v2' : 'v1';
      const load = startLoad({
        url: `http://127.0.0.1:${web.lbPort}/`,
        rate,
        maxRequests: rate * 300,
        maxMs: 300_000,
      });
      await new Promise((r) => setTimeout(r, 1000));
      const [r, rolloutS] = await timed(() => up(agent, web, next));
      if (r.code !== 0) throw new Error(`up ${next}: ${r.stderr}${r.stdout}`);
      tag = next;
      await pollUntil(`3 healthy ${tag} replicas`, () => settled(agent, 'benchroll', tag, 3), 30_000);
      const healS = await killAndHeal(agent, 'benchroll', tag);
      await new Promise((res) => setTimeout(res, 1000));
      const result = await load.stop();
      if (result.failed + result.non2xx > 0) log(`run ${i + 1}: ${describeFailures(result)}`);
      failed += result.failed;
      non2xx += result.non2xx;
      requests += result.requests;
      skipped += result.skipped;
      achieved = Math.min(achieved, result.rate);
      rollouts.push(rolloutS);
      heals.push(healS);
      ups.push(await up20(agent, dir, i));
      log(
        `run ${i + 1}/${runs}: rollout ${rolloutS.toFixed(2)} s, heal ${healS.toFixed(2)} s, up_20 ${ups.at(-1)?.toFixed(2)} s, ${result.requests} requests (${result.failed} failed, ${result.non2xx} non-2xx)`,
      );
    }
    await agent.cli(['down', '-p', 'benchroll'], { timeoutMs: 60_000 });
    return {
      runs,
      rate,
      rate_achieved_min: round(achieved, 0),
      requests,
      skipped_by_stalled_client: skipped,
      failed_requests: failed,
      non_2xx: non2xx,
      rollout_s: round(median(rollouts)),
      heal_s: round(median(heals)),
      up_20_s: round(median(ups)),
      replicas: 3,
      update: 'start-first, parallelism 1, monitor 1s',
      health_interval_s: 1,
    };
  } finally {
    await agent.stop();
    await removeDir(dir);
  }
}
