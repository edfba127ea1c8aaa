import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerRecord } from '../../../runtime/containers/record.js';
import { harness, until, writeRecord } from './fakes.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/state');

/** Where fixture records' paths point instead of the temp dir they were saved from (set per run). */
let sampleRoot = '';

/**
 * Today's release's running record (test/fixtures/state), under a new id and with `patch`. Its
 * absolute paths (bundle, log, rootfs, hosts) are moved under this run's temp dir: restore writes
 * the bundle, and a test writes nowhere but its own dir.
 */
async function fixture(id: string, patch: Partial<ContainerRecord> = {}): Promise<ContainerRecord> {
  const text = await readFile(join(FIXTURES, 'container-v0-running.json'), 'utf8');
  const savedRoot = /"bundleDir": "(\/[^"]*?)\/run\/containers\//.exec(text)?.[1];
  assert.ok(savedRoot && sampleRoot, 'the fixture names its bundle dir');
  const rec = JSON.parse(text.split(savedRoot).join(sampleRoot)) as ContainerRecord;
  // The fixture's health check would start a monitor that runs probes: these tests are about restore.
  const { health: _health, ...config } = rec.config;
  return { ...rec, id, name: `c-${id.slice(0, 6)}`, config, health: 'none', ...patch };
}

const id = (c: string) => c.repeat(64);

describe('live restore (fake executor, network and snapshots; no runc)', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-restore-'));
    sampleRoot = join(dir, 'sample-root');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const setup = () => harness(join(dir, String(++n)));

  it('running in the runtime: adopted as running, its network and snapshot kept, its exit watched', async () => {
    const h = setup();
    await writeRecord(h.stateRoot, await fixture(id('a')));
    h.executor.adoptAs.set(id('a'), { status: 'running', pid: 4242 });
    assert.deepEqual(await h.manager.restore(), { running: 1, exited: 0 });
    const d = await h.manager.get(id('a'));
    assert.equal(d.state, 'running');
    assert.equal(d.pid, 4242);
    assert.deepEqual(h.network.restored, [id('a')]);
    assert.deepEqual(h.snapshots.kept, [id('a')]);
    assert.equal(h.events.length, 0, 'nothing to announce');
    h.executor.exit(id('a'), 2);
    await until(() => h.events.some((e) => e.topic === 'container.died'), 'its exit is watched');
    assert.equal((await h.manager.get(id('a'))).exitCode, 2);
    await h.manager.close();
  });

  it('exited while the agent was away: reported died with its exit code; on-failure restarts it', async () => {
    const h = setup();
    const finishedAt = new Date().toISOString();
    await writeRecord(h.stateRoot, await fixture(id('b')));
    h.executor.adoptAs.set(id('b'), { status: 'exited', exit: { exitCode: 7, oomKilled: true, finishedAt } });
    assert.deepEqual(await h.manager.restore(), { running: 0, exited: 1 });
    assert.deepEqual(h.events[0], { topic: 'container.died', name: 'c-bbbbbb', exitCode: 7 });
    assert.deepEqual(h.network.restored, []);
    // The fixture's policy is on-failure:3: brought back after its backoff.
    await until(() => h.executor.count('start ') === 1, 'restarted by its policy');
    await until(() => h.events.some((e) => e.topic === 'container.started'), 'started');
    const d = await h.manager.get(id('b'));
    assert.equal(d.state, 'running');
    assert.equal(d.restartCount, 1);
    await h.manager.close();
  });

  it('bundle and runtime state gone (missing): exited 255; an exited always container comes back, a stopped unless-stopped and a no one do not', async () => {
    const h = setup();
    await writeRecord(
      h.stateRoot,
      await fixture(id('c'), {
        config: { ...(await fixture(id('c'))).config, restart: { name: 'no', maxRetries: 0 } },
      }),
    );
    await writeRecord(
      h.stateRoot,
      await fixture(id('d'), {
        state: 'exited',
        stoppedByUser: false,
        config: { ...(await fixture(id('d'))).config, restart: { name: 'always', maxRetries: 0 } },
      }),
    );
    await writeRecord(
      h.stateRoot,
      await fixture(id('e'), {
        state: 'exited',
        stoppedByUser: true,
        config: { ...(await fixture(id('e'))).config, restart: { name: 'unless-stopped', maxRetries: 0 } },
      }),
    );
    assert.deepEqual(await h.manager.restore(), { running: 0, exited: 1 });
    const c = await h.manager.get(id('c'));
    assert.equal(c.state, 'exited');
    assert.equal(c.exitCode, 255);
    assert.deepEqual(h.events[0], { topic: 'container.died', name: 'c-cccccc', exitCode: 255 });
    await until(() => h.executor.count(`start ${id('d')}`) === 1, 'always comes back at agent start');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.executor.count(`start ${id('e')}`), 0, 'unless-stopped stopped by the user stays stopped');
    assert.equal(h.executor.count(`start ${id('c')}`), 0);
    assert.equal(h.executor.count(`adopt ${id('d')}`), 0, 'an exited record is not asked about');
    await h.manager.close();
  });

  it('an always container the user stopped comes back when the agent starts (as Docker’s always does after a daemon restart)', async () => {
    const h = setup();
    await writeRecord(
      h.stateRoot,
      await fixture(id('f'), {
        state: 'exited',
        stoppedByUser: true,
        config: { ...(await fixture(id('f'))).config, restart: { name: 'always', maxRetries: 0 } },
      }),
    );
    await h.manager.restore();
    await until(() => h.executor.count(`start ${id('f')}`) === 1, 'the stopped always container started');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h.manager.get(id('f'))).state, 'running', 'running, not stuck restarting');
    await h.manager.close();
  });

  for (const [runtime, expect] of [
    ['running', { state: 'running', died: false, exitCode: undefined }],
    ['created', { state: 'exited', died: true, exitCode: 128 }],
    ['exited', { state: 'exited', died: true, exitCode: 9 }],
    ['missing', { state: 'exited', died: true, exitCode: 128 }],
  ] as const) {
    it(`an agent died inside a start (record starting), the runtime says ${runtime}: ${expect.state}`, async () => {
      const h = setup();
      const rec = await fixture(id('f'), {
        state: 'exited',
        starting: true,
        config: { ...(await fixture(id('f'))).config, restart: { name: 'no', maxRetries: 0 } },
      });
      await writeRecord(h.stateRoot, rec);
      if (runtime === 'running') h.executor.adoptAs.set(id('f'), { status: 'running', pid: 77 });
      if (runtime === 'created') h.executor.adoptAs.set(id('f'), { status: 'created', pid: 77 });
      if (runtime === 'exited')
        h.executor.adoptAs.set(id('f'), {
          status: 'exited',
          exit: { exitCode: 9, oomKilled: false, finishedAt: new Date().toISOString() },
        });
      const counts = await h.manager.restore();
      assert.deepEqual(counts, runtime === 'running' ? { running: 1, exited: 0 } : { running: 0, exited: 1 });
      const d = await h.manager.get(id('f'));
      assert.equal(d.state, expect.state);
      assert.equal(d.exitCode, expect.exitCode);
      assert.equal(
        h.events.some((e) => e.topic === 'container.died'),
        expect.died,
      );
      assert.deepEqual(h.network.restored, runtime === 'running' ? [id('f')] : []);
      // The runtime's state of a start that did not complete is freed (a created init is killed by delete).
      assert.equal(h.executor.count(`delete ${id('f')}`), runtime === 'running' ? 0 : 1);
      const saved = JSON.parse(
        await readFile(join(h.stateRoot, 'containers', id('f'), 'container.json'), 'utf8'),
      );
      assert.equal(saved.starting, undefined, 'the flag is cleared on disk');
      assert.equal(saved.schemaVersion, 1);
      await h.manager.close();
    });
  }

  it('an exited --rm container an earlier agent did not finish removing is removed', async () => {
    const h = setup();
    await writeRecord(
      h.stateRoot,
      await fixture(id('9'), {
        state: 'exited',
        config: { ...(await fixture(id('9'))).config, autoRemove: true },
      }),
    );
    await h.manager.restore();
    assert.deepEqual(await h.manager.list({ all: true }), []);
    assert.deepEqual(
      h.events.map((e) => e.topic),
      ['container.removed'],
    );
    await h.manager.close();
  });

  it('a container an earlier agent died removing (record saved as removing) is removed, not left stuck', async () => {
    const h = setup();
    await writeRecord(h.stateRoot, await fixture(id('8'), { state: 'removing' }));
    await h.manager.restore();
    assert.deepEqual(await h.manager.list({ all: true }), []);
    assert.deepEqual(
      h.events.map((e) => e.topic),
      ['container.removed'],
    );
    await h.manager.close();
  });
});
