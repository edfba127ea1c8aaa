/**
 * `berth ps` in observe mode lists what berth watches: its own containers and
 * the observed ones, with a SOURCE column and a `--source` filter, and the
 * observed ones are read-only (stop, restart, rm, kill refused naming the
 * container and why).
 *
 * Agent A (run mode) runs two containers as an engine would; agent B
 * (`--mode observe`, told not to skip /berth, where A's cgroups are) did not
 * start them: one is laid out as Docker lays one out (config.v2.json under a
 * Docker root, as in live.test.ts), so B sees it as `docker`; the other has
 * no records, so B sees a bare cgroup (`cgroup`). B runs one container of
 * its own (`--network none`: an observing agent sets up no bridge).
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';
import { agentWithImage, IMAGE, ok } from '../logs-e2e/e2e.js';

describe('observe mode: berth ps lists the observed containers, read-only', () => {
  let a: TestAgent | undefined;
  let b: TestAgent | undefined;
  let dir = '';
  const dk = `ps-dk-${process.pid}`;
  const bare = `ps-bare-${process.pid}`;
  const own = `ps-own-${process.pid}`;
  let dkId = '';
  let bareId = '';
  let ownId = '';

  const idOf = async (agent: TestAgent, name: string) => {
    const [d] = JSON.parse(await ok(agent, ['inspect', name])) as Array<{ id: string; pid?: number }>;
    assert.match(d?.id ?? '', /^[0-9a-f]{64}$/);
    return d as { id: string; pid?: number };
  };
  const psJson = async (args: string[] = []) =>
    JSON.parse(await ok(b as TestAgent, ['ps', '--format', 'json', ...args])) as ContainerDescriptor[];
  /** `berth ps` table rows (header first), split on runs of 2+ spaces. */
  const psTable = async (args: string[] = []) =>
    (await ok(b as TestAgent, ['ps', ...args]))
      .trimEnd()
      .split('\n')
      .map((l) => l.trim().split(/ {2,}/));

  before(async () => {
    a = await agentWithImage();
    await ok(a, ['run', '-d', '--name', dk, IMAGE, 'sleep', '300']);
    await ok(a, ['run', '-d', '--name', bare, IMAGE, 'sleep', '300']);
    const dkDesc = await idOf(a, dk);
    dkId = dkDesc.id;
    bareId = (await idOf(a, bare)).id;
    dir = await tempDir('observe-ps-');
    const rec = join(dir, 'docker/containers', dkId);
    await mkdir(rec, { recursive: true });
    await writeFile(
      join(rec, 'config.v2.json'),
      JSON.stringify({
        ID: dkId,
        Name: `/${dk}`,
        Created: new Date().toISOString(),
        State: { Running: true, Pid: dkDesc.pid ?? 0, StartedAt: new Date().toISOString() },
        Config: { Image: IMAGE, Labels: {}, Env: ['PATH=/bin'] },
        Image: `sha256:${'ab'.repeat(32)}`,
      }),
    );
    await writeFile(
      join(rec, 'hostconfig.json'),
      JSON.stringify({ LogConfig: { Type: 'none', Config: {} } }),
    );
    await mkdir(join(dir, 'var/log'), { recursive: true });
    b = await agentWithImage([
      '--mode',
      'observe',
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
    ]);
    await ok(b, ['run', '-d', '--network', 'none', '--name', own, IMAGE, 'sleep', '300']);
    ownId = (await idOf(b, own)).id;
    // B's observer finds A's containers by their cgroups (at start, else at the next rescan).
    await pollUntil(
      'both observed containers in B’s ps',
      async () => {
        const ids = (await psJson()).map((c) => c.id);
        return ids.includes(dkId) && ids.includes(bareId) ? true : undefined;
      },
      20_000,
      200,
    );
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists its own and the observed containers, with a SOURCE column', async () => {
    const rows = await psTable();
    assert.deepEqual(rows[0], ['CONTAINER ID', 'IMAGE', 'STATUS', 'PORTS', 'NAMES', 'SOURCE']);
    const row = (id: string) => rows.find((r) => r[0] === id.slice(0, 12));
    assert.deepEqual(row(ownId)?.slice(-2), [own, 'berth']);
    assert.equal(row(dkId)?.at(-1), 'docker');
    assert.equal(row(dkId)?.at(-2), dk);
    assert.equal(row(bareId)?.at(-1), 'cgroup');
    // B's own container is under /berth too, and observed as well: listed once, as berth's.
    assert.equal(rows.filter((r) => r[0] === ownId.slice(0, 12)).length, 1);
    const json = await psJson();
    assert.deepEqual(
      [ownId, dkId, bareId].map((id) => json.find((c) => c.id === id)?.source),
      ['berth', 'docker', 'cgroup'],
    );
    assert.equal(json.find((c) => c.id === dkId)?.name, dk);
  });

  it('--source keeps one source, in the table, in json and on the route', async () => {
    const docker = await psJson(['--source', 'docker']);
    assert.deepEqual(
      docker.map((c) => c.id),
      [dkId],
    );
    const berth = await psJson(['--source', 'berth']);
    assert.deepEqual(
      berth.map((c) => c.id),
      [ownId],
    );
    const cgroup = await psJson(['--source', 'cgroup']);
    assert.ok(cgroup.some((c) => c.id === bareId));
    assert.ok(cgroup.every((c) => c.source === 'cgroup'));
    const rows = await psTable(['--source', 'docker']);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[0], r.at(-1)]),
      [[dkId.slice(0, 12), 'docker']],
    );
    const quiet = await ok(b as TestAgent, ['ps', '-q', '--source', 'berth']);
    assert.equal(quiet, `${ownId.slice(0, 12)}\n`);
    const bad = await (b as TestAgent).cli(['ps', '--source', 'podman']);
    assert.equal(bad.code, 125, bad.stdout);
    assert.match(bad.stderr, /source/);
    assert.match(bad.stderr, /berth, docker, cri or cgroup/);
  });

  it('refuses stop, restart, kill and rm of an observed container, naming it and why', async () => {
    const bb = b as TestAgent;
    for (const [verb, target] of [
      ['stop', dk],
      ['restart', dk],
      ['kill', bareId.slice(0, 12)],
      ['rm', dk],
    ] as const) {
      const args = verb === 'rm' ? ['rm', '-f', target] : [verb, target];
      const r = await bb.cli(args);
      assert.equal(r.code, 125, `${verb}: ${r.stdout}`);
      const name = target === dk ? dk : bareId.slice(0, 12);
      const word = verb === 'rm' ? 'remove' : verb;
      assert.match(
        r.stderr,
        new RegExp(
          `cannot ${word} ${name} \\(.+\\): observed, not run by berth \\(source (docker|cgroup)\\): use `,
        ),
        `${verb}: ${r.stderr}`,
      );
    }
    const dockerHint = await bb.cli(['stop', dk]);
    assert.match(dockerHint.stderr, /source docker\): use docker/);
    // Untouched: A's containers still run; B's own is still stoppable.
    const running = JSON.parse(await ok(a as TestAgent, ['ps', '--format', 'json'])) as ContainerDescriptor[];
    assert.ok(running.some((c) => c.id === dkId && c.state === 'running'));
    assert.ok(running.some((c) => c.id === bareId && c.state === 'running'));
    // A name B knows nowhere is still NotFound.
    const missing = await bb.cli(['stop', `nothing-${process.pid}`]);
    assert.equal(missing.code, 125);
    assert.doesNotMatch(missing.stderr, /observed/);
    // inspect of an observed one answers its descriptor.
    const [d] = JSON.parse(await ok(bb, ['inspect', dk])) as ContainerDescriptor[];
    assert.equal(d?.source, 'docker');
    await ok(bb, ['stop', '-t', '1', own]);
  });

  it('a run-mode agent keeps its table as before (no SOURCE column)', async () => {
    const head = (await ok(a as TestAgent, ['ps'])).split('\n')[0]?.trim().split(/ {2,}/);
    assert.deepEqual(head, ['CONTAINER ID', 'IMAGE', 'STATUS', 'PORTS', 'NAMES']);
  });
});
