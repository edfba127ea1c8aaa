import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backoffDelay } from '../../../runtime/base/backoff.js';
import { DEFAULT_BACKOFF, type RestartBackoff } from '../../../runtime/restart/policy.js';
import { harness, until } from './fakes.js';

/** Fast backoff for the manager tests: 1 ms doubling up to 8 ms, no reset within a test. */
const FAST: RestartBackoff = { initialMs: 1, maxMs: 8, jitter: 0.2, resetAfterMs: 60_000 };

describe('restart scheduling (fake executor, no runc)', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-restarts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const setup = (backoff: RestartBackoff = FAST) => harness(join(dir, String(++n)), backoff);

  it('no: an exit stays exited', async () => {
    const h = setup();
    const c = await h.manager.create({ image: 'x', name: 'never', restart: 'no' });
    await h.manager.start(c.id);
    h.executor.exit(c.id, 1);
    await until(() => h.events.some((e) => e.topic === 'container.died'), 'died');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h.manager.get(c.id)).state, 'exited');
    assert.equal(h.executor.count('start '), 1);
    await h.manager.close();
  });

  it('on-failure:2: restarts a failing container twice, then leaves it exited; an exit 0 is not restarted', async () => {
    const h = setup();
    const c = await h.manager.create({ image: 'x', name: 'flaky', restart: 'on-failure:2' });
    await h.manager.start(c.id);
    for (let i = 1; i <= 3; i++) {
      await until(() => h.events.filter((e) => e.topic === 'container.started').length === i, `start ${i}`);
      h.executor.exit(c.id, 3);
      await until(() => h.events.filter((e) => e.topic === 'container.died').length === i, `died ${i}`);
    }
    await new Promise((r) => setTimeout(r, 40));
    const d = await h.manager.get(c.id);
    assert.equal(d.state, 'exited');
    assert.equal(d.restartCount, 2);
    assert.equal(d.exitCode, 3);
    assert.equal(h.executor.count('start '), 3);

    const ok = await h.manager.create({ image: 'x', name: 'done', restart: 'on-failure' });
    await h.manager.start(ok.id);
    h.executor.exit(ok.id, 0);
    await until(() => h.events.some((e) => e.topic === 'container.died' && e.name === 'done'), 'died');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h.manager.get(ok.id)).state, 'exited');
    await h.manager.close();
  });

  it('always: an exit 0 is restarted; a stop by the user is not, and cancels a pending restart', async () => {
    const h = setup({ ...FAST, initialMs: 10_000, maxMs: 10_000 });
    const c = await h.manager.create({ image: 'x', name: 'always', restart: 'always' });
    await h.manager.start(c.id);
    h.executor.exit(c.id, 0);
    await until(() => h.events.some((e) => e.topic === 'container.died'), 'died');
    // The exit is handled (record saved, restart scheduled) right after the event: soon, but a save
    // on a loaded machine can take longer than any fixed pause. The state is already `exited` when
    // `container.died` is published; it turns `restarting` once the restart is scheduled.
    let pending = await h.manager.get(c.id);
    for (let i = 0; i < 400 && pending.state === 'exited'; i++) {
      await new Promise((r) => setTimeout(r, 5));
      pending = await h.manager.get(c.id);
    }
    assert.equal(pending.state, 'restarting', 'waiting out its 10 s backoff');
    await h.manager.stop(c.id);
    assert.equal((await h.manager.get(c.id)).state, 'exited');
    assert.equal(h.executor.count('start '), 1, 'the pending restart was cancelled');

    const h2 = setup();
    const c2 = await h2.manager.create({ image: 'x', name: 'always2', restart: 'always' });
    await h2.manager.start(c2.id);
    h2.executor.exit(c2.id, 0);
    await until(() => h2.executor.count('start ') === 2, 'restarted after exit 0');
    await until(() => h2.events.filter((e) => e.topic === 'container.started').length === 2, 'started again');
    assert.equal((await h2.manager.get(c2.id)).state, 'running');
    const exited = h2.manager.stop(c2.id);
    assert.equal((await exited).exitCode, 143);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h2.manager.get(c2.id)).state, 'exited');
    assert.equal(h2.executor.count('start '), 2, 'stopped by the user: not restarted');
    await h.manager.close();
    await h2.manager.close();
  });

  it('unless-stopped: restarted after a crash, not after kill by the user', async () => {
    const h = setup();
    const c = await h.manager.create({ image: 'x', name: 'us', restart: 'unless-stopped' });
    await h.manager.start(c.id);
    h.executor.exit(c.id, 1);
    await until(() => h.executor.count('start ') === 2, 'restarted after a crash');
    await until(() => h.events.filter((e) => e.topic === 'container.started').length === 2, 'started again');
    await h.manager.kill(c.id, 'SIGKILL');
    await until(() => h.events.filter((e) => e.topic === 'container.died').length === 2, 'died twice');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h.manager.get(c.id)).state, 'exited');
    assert.equal(h.executor.count('start '), 2);
    await h.manager.close();
  });

  it('a restart whose start fails is recorded as an exit (128) and the policy applies again', async () => {
    const h = setup();
    const c = await h.manager.create({ image: 'x', name: 'broken', restart: 'on-failure:2' });
    await h.manager.start(c.id);
    h.executor.failStart = new Error('runc start failed');
    h.executor.exit(c.id, 1);
    await until(() => h.executor.count('start ') === 3, 'two failed restarts');
    await until(() => h.events.filter((e) => e.topic === 'container.died').length === 3, 'three deaths');
    await new Promise((r) => setTimeout(r, 30));
    const d = await h.manager.get(c.id);
    assert.equal(d.state, 'exited');
    assert.equal(d.exitCode, 128);
    assert.equal(d.restartCount, 2);
    assert.ok(h.lines.some((l) => l.msg === 'restart failed'));
    await h.manager.close();
  });

  it('backoff: doubles from 100 ms to 60 s, each delay within [0.8, 1] of nominal (20 % jitter)', () => {
    assert.equal(DEFAULT_BACKOFF.initialMs, 100);
    assert.equal(DEFAULT_BACKOFF.maxMs, 60_000);
    assert.equal(DEFAULT_BACKOFF.resetAfterMs, 10_000);
    for (let attempt = 0; attempt < 40; attempt++) {
      const nominal = Math.min(60_000, 100 * 2 ** attempt);
      assert.equal(
        backoffDelay(attempt, DEFAULT_BACKOFF, () => 0),
        nominal,
      );
      assert.equal(
        backoffDelay(attempt, DEFAULT_BACKOFF, () => 1),
        Math.round(nominal * 0.8),
      );
      for (let i = 0; i < 20; i++) {
        const d = backoffDelay(attempt, DEFAULT_BACKOFF);
        assert.ok(d >= Math.round(nominal * 0.8) && d <= nominal, `attempt ${attempt}: ${d} of ${nominal}`);
      }
    }
  });
});
