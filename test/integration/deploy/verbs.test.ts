/**
 * The other project verbs as a user runs them (issue 14), against a real
 * agent: `logs -p` interleaves the replicas with `<name> | ` prefixes, a
 * replica whose restart policy restarts it is left to the policy (same
 * container, no replacement), `rollback SERVICE` returns to the previous
 * revision, and `up --wait` exits 1 naming the service and its reason when
 * a service cannot come up.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { HTTP_IMAGE, loadHttpImages } from '../../harness/http-image.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let agent: TestAgent;
let dir: string;
let file: string;

interface Ps {
  id: string;
  name: string;
  state: string;
  health: string;
  imageTag: string;
  pid?: number;
  restartCount: number;
}

async function ps(project: string): Promise<Ps[]> {
  const r = await agent.cli([
    'ps',
    '-a',
    '--format',
    'json',
    '-f',
    `label=com.docker.compose.project=${project}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Ps[]).sort((a, b) => a.name.localeCompare(b.name));
}

const compose = `name: verbs
services:
  web:
    image: ${HTTP_IMAGE}:\${WEB_TAG:-v1}
    deploy:
      replicas: 2
      update_config: { order: start-first, monitor: 0s }
  job:
    image: ${HTTP_IMAGE}:v1
    command: ["sh", "-c", "echo hello from $$HOSTNAME; exec sleep 3600"]
    hostname: jobhost
    healthcheck: { disable: true }
    volumes: ["data:/data"]
  keeper:
    image: ${HTTP_IMAGE}:v1
    restart: always
volumes:
  data: {}
`;

const up = (args: string[], env: Record<string, string> = {}) =>
  agent.cli(['up', '-f', file, ...args], { env, timeoutMs: 120_000 });

before(async () => {
  dir = await tempDir('deploy-verbs-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1', 'v2']);
  file = join(dir, 'compose.yaml');
  await writeFile(file, compose);
  const r = await up(['-d', '--wait']);
  assert.equal(r.code, 0, `up: ${r.stderr}`);
});

after(async () => {
  for (const p of ['verbs', 'broken']) await agent?.cli(['down', '-p', p]).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

describe('project verbs', { concurrency: false }, () => {
  test('logs -p: every replica, each line prefixed with its name', async () => {
    const r = await agent.cli(['logs', '-p', 'verbs', 'job']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^verbs-job-1 \| hello from jobhost$/m);
    const all = await agent.cli(['logs', '-p', 'verbs']);
    assert.match(all.stdout, /^verbs-job-1 \| hello from jobhost$/m);
    const bad = await agent.cli(['logs', '-p', 'verbs', 'nosuch']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /service nosuch not found in project verbs/);
  });

  test('the restart policy acts first: a replica it restarts is not replaced', async () => {
    const before = (await ps('verbs')).find((c) => c.name === 'verbs-keeper-1');
    assert.ok(before?.pid);
    process.kill(before.pid, 'SIGKILL');
    const now = await pollUntil(
      'keeper restarted by its policy',
      async () => {
        const c = (await ps('verbs')).find((x) => x.name === 'verbs-keeper-1');
        return c && c.state === 'running' && c.restartCount > before.restartCount ? c : undefined;
      },
      30_000,
      100,
    );
    assert.equal(now.id, before.id, 'the same container, restarted');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await ps('verbs')).filter((c) => c.name.startsWith('verbs-keeper')).length, 1);
  });

  test('rollback SERVICE returns to the previous revision', async () => {
    let r = await up(['-d', '--wait'], { WEB_TAG: 'v2' });
    assert.equal(r.code, 0, `up v2: ${r.stderr}`);
    const tags = async () =>
      (await ps('verbs'))
        .filter((c) => c.name.startsWith('verbs-web') && c.state === 'running')
        .map((c) => c.imageTag)
        .sort();
    assert.deepEqual(await tags(), ['v2', 'v2']);
    r = await agent.cli(['rollback', '-p', 'verbs', 'web', '--wait'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `rollback: ${r.stderr}`);
    await pollUntil(
      'web back on v1',
      async () => ((await tags()).join() === 'v1,v1' ? true : undefined),
      30_000,
    );
    const none = await agent.cli(['rollback', '-p', 'verbs', 'job']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /service job has no previous revision to roll back to/);
  });

  test('a service dropped from the file stays until --remove-orphans', async () => {
    const without = join(dir, 'without-keeper.yaml');
    await writeFile(without, compose.replace(/ {2}keeper:\n {4}image: .*\n {4}restart: always\n/, ''));
    let r = await agent.cli(['up', '-f', without, '-d', '--wait'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      (await ps('verbs')).some((c) => c.name === 'verbs-keeper-1'),
      'kept without --remove-orphans',
    );
    r = await agent.cli(['up', '-f', without, '-d', '--wait', '--remove-orphans'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    await pollUntil(
      'keeper removed as an orphan',
      async () => ((await ps('verbs')).some((c) => c.name.startsWith('verbs-keeper')) ? undefined : true),
      30_000,
    );
    assert.equal((await ps('verbs')).filter((c) => c.name.startsWith('verbs-web')).length, 2);
  });

  test('up --wait exits 1 naming a service that cannot come up', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(
      broken,
      `name: broken\nservices:\n  crash:\n    image: ${HTTP_IMAGE}:v1\n    command: ["sh", "-c", "exit 3"]\n`,
    );
    const r = await agent.cli(['up', '-f', broken, '--wait', '--wait-timeout', '6'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /not up within 6 s \(crash: .*exited with code 3/);
    const svc = await agent.cli(['services', '-p', 'broken']);
    assert.match(svc.stdout, /crash .*exited with code 3/);
  });

  test('down -v removes the replicas, the network and the named volumes', async () => {
    assert.match((await agent.cli(['volume', 'ls'])).stdout, /verbs_data/);
    const r = await agent.cli(['down', '-v', '-p', 'verbs']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await ps('verbs'), []);
    assert.doesNotMatch((await agent.cli(['volume', 'ls'])).stdout, /verbs_data/);
    assert.doesNotMatch((await agent.cli(['network', 'ls'])).stdout, /verbs_default/);
  });
});
