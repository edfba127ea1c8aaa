/**
 * `berth agent --mode` and the host roots, as the composition root turns them
 * into the sidecars' source and config (src/agent/observe.ts), over a fixture
 * host laid out as a Docker host.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { observeSource } from '../../../src/agent/observe.js';
import { FakeContainerSource } from '../../harness/fake-source.js';

const HOST = join(import.meta.dirname, '../../fixtures/observe/docker-systemd-v2');
const A = 'a1'.repeat(32);

describe('observe: --mode and --host-root', () => {
  it('run: the sidecars follow the runtime, with a bridge', async () => {
    const runtime = new FakeContainerSource();
    const o = await observeSource(await loadAgentConfig({}, {}), runtime, silentLogger());
    assert.equal(o.source, runtime);
    assert.equal(o.bridge, true);
    await o.close();
  });

  it('observe: the host’s containers only, no bridge, metrics read the host root', async () => {
    const runtime = new FakeContainerSource();
    runtime.start({ name: 'own' });
    const cfg = await loadAgentConfig({ mode: 'observe', hostRoot: HOST }, {});
    const o = await observeSource(cfg, runtime, silentLogger());
    try {
      assert.deepEqual(
        (await o.source.list()).map((c) => c.id),
        [A],
      );
      assert.equal(o.bridge, false);
      assert.equal(
        o.cfg.sections.metrics?.roots,
        `${join(HOST, 'proc')}:${join(HOST, 'sys')}:${join(HOST, 'sys/fs/cgroup')}`,
      );
    } finally {
      await o.close();
    }
  });

  it('both: the runtime’s and the host’s containers; an explicit metrics.roots is kept', async () => {
    const runtime = new FakeContainerSource();
    runtime.start({ name: 'own' });
    const cfg = await loadAgentConfig({ mode: 'both', hostRoot: HOST }, {});
    const o = await observeSource(
      { ...cfg, sections: { metrics: { roots: '/p:/s:/c' } } },
      runtime,
      silentLogger(),
    );
    try {
      assert.deepEqual((await o.source.list()).map((c) => c.name).sort(), ['own', 'web']);
      assert.equal(o.bridge, true);
      assert.equal(o.cfg.sections.metrics?.roots, '/p:/s:/c');
    } finally {
      await o.close();
    }
  });

  it('a mode that does not exist, or a host root without a cgroup tree, is refused naming it', async () => {
    await assert.rejects(loadAgentConfig({ mode: 'watch' }, {}), /mode/);
    const cfg = await loadAgentConfig({ mode: 'observe', hostRoot: '/nonexistent-host-root' }, {});
    await assert.rejects(
      observeSource(cfg, new FakeContainerSource(), silentLogger()),
      /nonexistent-host-root/,
    );
  });
});
