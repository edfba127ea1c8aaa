/**
 * The agent's watched projects directory (`--projects-dir`, issue 14) and
 * `kill -9` of the agent during `up`, through a real agent: a Compose file
 * added is brought up, changed is applied (only the changed service
 * recreated), an invalid one changes nothing running (the reason in the
 * events and `berth services`), removed is taken down; an agent killed
 * between creating a replica and starting it converges after its restart
 * with no duplicate.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { HTTP_IMAGE, loadHttpImages } from '../../harness/http-image.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let agent: TestAgent;
let dir: string;
let projects: string;

interface Ps {
  id: string;
  name: string;
  state: string;
  health: string;
  labels: Record<string, string>;
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

const healthy = (project: string, names: string[]) =>
  pollUntil(
    `${names.join(', ')} running and healthy`,
    async () => {
      const l = await ps(project);
      const ok =
        l.length === names.length &&
        l.every((c, i) => c.name === names[i] && c.state === 'running' && c.health === 'healthy');
      return ok ? l : undefined;
    },
    60_000,
    100,
  );

const file = (role: string, replicas = 2) => `services:
  web:
    image: ${HTTP_IMAGE}:v1
    deploy: { replicas: ${replicas} }
  side:
    image: ${HTTP_IMAGE}:v1
    environment: { ROLE: ${role} }
`;

before(async () => {
  dir = await tempDir('deploy-dir-');
  projects = join(dir, 'projects');
  await mkdir(projects);
  agent = await startAgent({ args: ['--projects-dir', projects] });
  await loadHttpImages(agent.cli, dir, ['v1']);
});

after(async () => {
  for (const p of ['blog', 'news', 'crashy']) await agent?.cli(['down', '-p', p]).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

describe('projects directory', { concurrency: false }, () => {
  test('a file added is brought up, named after the file', async () => {
    await writeFile(join(projects, 'blog.yaml'), file('one'));
    await healthy('blog', ['blog-side-1', 'blog-web-1', 'blog-web-2']);
  });

  test('a change is applied: only the changed service is recreated', async () => {
    const before = await ps('blog');
    await writeFile(join(projects, 'blog.yaml'), file('two'));
    const now = await pollUntil(
      'blog-side-1 recreated',
      async () => {
        const l = await ps('blog');
        const side = l.find((c) => c.name === 'blog-side-1');
        const old = before.find((c) => c.name === 'blog-side-1');
        return side && old && side.id !== old.id && side.health === 'healthy' && l.length === 3
          ? l
          : undefined;
      },
      60_000,
      100,
    );
    for (const n of ['blog-web-1', 'blog-web-2']) {
      assert.equal(now.find((c) => c.name === n)?.id, before.find((c) => c.name === n)?.id, `${n} untouched`);
    }
  });

  test('an invalid file changes nothing; the reason is in the events and berth services', async () => {
    const before = (await ps('blog')).map((c) => c.id);
    // Read afterwards with --since: a subscription started first might not be live yet when the file lands.
    const t0 = new Date().toISOString();
    await writeFile(join(projects, 'blog.yaml'), `${file('three')}    privileged: true\n`);
    const svc = await pollUntil(
      'the refusal in berth services',
      async () => {
        const r = await agent.cli(['services', '-p', 'blog']);
        return /privileged/.test(r.stdout) ? r.stdout : undefined;
      },
      15_000,
      100,
    );
    assert.match(svc, /blog\.yaml:\d+:\d+: services\.side\.privileged: unsupported key/);
    const ev = await agent.cli(['events', '--since', t0, '--filter', 'project.rejected'], {
      timeoutMs: 5000,
    });
    assert.match(ev.stdout, /"topic":"project\.rejected"/);
    assert.match(ev.stdout, /services\.side\.privileged: unsupported key/);
    assert.deepEqual(
      (await ps('blog')).map((c) => c.id),
      before,
    );
  });

  test('a subdirectory with a compose.yaml is a project named after it', async () => {
    await mkdir(join(projects, 'news'));
    await writeFile(join(projects, 'news', 'compose.yaml'), file('one', 1));
    await healthy('news', ['news-side-1', 'news-web-1']);
    await rm(join(projects, 'news'), { recursive: true });
    await pollUntil(
      'news down',
      async () => ((await ps('news')).length === 0 ? true : undefined),
      60_000,
      100,
    );
  });

  test('a file removed takes its project down', async () => {
    await rm(join(projects, 'blog.yaml'));
    await pollUntil(
      'blog down',
      async () => ((await ps('blog')).length === 0 ? true : undefined),
      60_000,
      100,
    );
    const r = await agent.cli(['services', '-p', 'blog']);
    assert.match(r.stderr, /project blog not found/);
  });
});

describe('agent killed during up', { concurrency: false }, () => {
  test('kill -9 after a replica was created, before it started: the restarted agent converges, no duplicate', async () => {
    const compose = join(dir, 'crashy.yaml');
    await writeFile(compose, `name: crashy\n${file('x', 3)}`);
    process.kill(agent.process().pid, 'SIGTERM');
    await agent.process().exited;
    await agent.restart({ agentEnv: { BERTH_TEST_CRASH_AT: 'after-runc-create' } });
    const up = await agent.cli(['up', '-f', compose, '-d']);
    assert.notEqual(up.code, 0, 'the agent died under up');
    const exit = await agent.process().exited;
    assert.equal(exit.signal, 'SIGKILL', `the agent died by its crash hook: ${JSON.stringify(exit)}`);
    await agent.restart({ agentEnv: { BERTH_TEST_CRASH_AT: '' } });
    const list = await healthy('crashy', ['crashy-side-1', 'crashy-web-1', 'crashy-web-2', 'crashy-web-3']);
    assert.equal(new Set(list.map((c) => c.name)).size, list.length, 'no name twice');
    // And it stays so: a resync later still has exactly these.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(
      (await ps('crashy')).map((c) => c.id),
      list.map((c) => c.id),
    );
  });
});
