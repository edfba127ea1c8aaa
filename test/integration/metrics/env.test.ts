/**
 * The metrics section's environment variables (sidecar/metrics/config.ts):
 * BERTH_METRICS_ROOTS and BERTH_METRICS_LABELS_ALLOWLIST are read at start
 * and rank above the config file (flags, env, file, defaults: src/README.md).
 * `berth agent --check-config` prints them as the effective config; a real
 * agent started with the allowlist in its env exports that label on
 * berth_container_info, where its config file names another.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ok } from '../logs-e2e/e2e.js';

const IMAGE = 'test/busybox:metrics-env';

describe('BERTH_METRICS_ROOTS and BERTH_METRICS_LABELS_ALLOWLIST', () => {
  let dir = '';
  let agent: TestAgent | undefined;
  const name = `menv-${process.pid}`;

  before(async () => {
    dir = await tempDir('berth-metrics-env-');
  });
  after(async () => {
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  it('berth agent --check-config prints the env values over the file’s', async () => {
    const config = join(dir, 'agent.json');
    await writeFile(config, JSON.stringify({ metrics: { roots: '/a:/b:/c', labelsAllowlist: ['other'] } }));
    const flags = ['--state-root', join(dir, 'state'), '--run-dir', join(dir, 'run'), '--config', config];
    const env = {
      BERTH_FROM_SOURCE: '1',
      BERTH_METRICS_ROOTS: '/host/proc:/host/sys:/host/sys/fs/cgroup',
      BERTH_METRICS_LABELS_ALLOWLIST: 'team, app',
    };
    const r = await runCli(['agent', '--check-config', ...flags], env);
    assert.equal(r.code, 0, r.stderr);
    const metrics = (JSON.parse(r.stdout) as { metrics: Record<string, unknown> }).metrics;
    assert.equal(metrics.roots, '/host/proc:/host/sys:/host/sys/fs/cgroup');
    assert.deepEqual(metrics.labelsAllowlist, ['team', 'app']);
    // Without the env the file's values stand.
    const plain = await runCli(['agent', '--check-config', ...flags], { BERTH_FROM_SOURCE: '1' });
    assert.equal(plain.code, 0, plain.stderr);
    const fileOnly = (JSON.parse(plain.stdout) as { metrics: Record<string, unknown> }).metrics;
    assert.equal(fileOnly.roots, '/a:/b:/c');
    assert.deepEqual(fileOnly.labelsAllowlist, ['other']);
    // A bad value from the env is refused naming the key, as one from the file is.
    const bad = await runCli(['agent', '--check-config', ...flags], {
      BERTH_FROM_SOURCE: '1',
      BERTH_METRICS_ROOTS: 'proc',
    });
    assert.equal(bad.code, 125, bad.stdout);
    assert.match(bad.stderr, /metrics\.roots: "proc" is not proc:sys:cgroup/);
  });

  it('a started agent exports the label the env allows, not the one its file names', async () => {
    agent = await startAgent({
      config: { metrics: { labelsAllowlist: ['other'] } },
      agentEnv: { BERTH_METRICS_LABELS_ALLOWLIST: 'team' },
    });
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, config: { Cmd: ['sh'] } });
    await ok(agent, ['load', '-i', tar]);
    await ok(agent, [
      'run',
      '-d',
      '--name',
      name,
      '--label',
      'team=shop',
      '--label',
      'other=x',
      IMAGE,
      'sleep',
      '300',
    ]);
    const url = String(((await agent.info()).endpoints as Record<string, string>).metrics);
    const line = await pollUntil(
      'berth_container_info of the container',
      async () =>
        (await (await fetch(url)).text())
          .split('\n')
          .find((l) => l.startsWith('berth_container_info{') && l.includes(`name="${name}"`)),
      20_000,
      200,
    );
    assert.match(line, /container_label_team="shop"/);
    assert.doesNotMatch(line, /container_label_other=/);
    await ok(agent, ['rm', '-f', name]);
  });
});
