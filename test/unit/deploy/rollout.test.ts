import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ComposeUpdateConfig } from '../../../src/compose/types.js';
import type { RolloutState } from '../../../src/deploy/contract.js';
import { newRolloutState, resumeState, rollout } from '../../../src/deploy/rollout.js';
import { FakeClock, FakeOps, rev } from './rollout-fakes.js';

const V1 = rev('web:v1', 'h1');

interface Setup {
  update?: Partial<ComposeUpdateConfig>;
  rollback?: Partial<ComposeUpdateConfig>;
  replicas?: number;
  initial?: number[];
  kind?: RolloutState['kind'];
}

function setup(o: Setup = {}) {
  const v2 = rev('web:v2', 'h2', o.update, o.rollback);
  const ops = new FakeOps({ hash: 'h1', indexes: o.initial ?? [1, 2, 3] });
  const clock = new FakeClock();
  const state = newRolloutState({ kind: o.kind ?? 'update', from: V1, to: v2, replicas: o.replicas ?? 3 });
  const go = (s: RolloutState = state) =>
    rollout(
      {
        current: ops.current(),
        state: s,
        ops,
        save: ops.save,
        onProgress: ops.onProgress,
        signal: ops.controller.signal,
      },
      { clock },
    );
  return { ops, clock, state, go, v2 };
}

const steps = (ops: FakeOps): string[] =>
  ops.calls.filter((c) => c.op !== 'monitor').map((c) => `${c.op} ${c.name} ${c.hash}`);

describe('rollout: start-first', () => {
  test('starts one, waits ready, retires one, parallelism 1: never fewer than 3 serving, at most 4 running', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', monitorMs: 0 } });
    const end = await go();
    assert.equal(end.phase, 'done');
    assert.deepEqual(steps(ops), [
      'start web-4 h2',
      'ready web-4 h2',
      'retire web-1 h1',
      'start web-1 h2',
      'ready web-1 h2',
      'retire web-2 h1',
      'start web-2 h2',
      'ready web-2 h2',
      'retire web-3 h1',
    ]);
    assert.equal(ops.minServing, 3);
    assert.equal(ops.maxRunning, 4);
    assert.deepEqual(ops.names('h2'), ['web-1', 'web-2', 'web-4']);
    assert.deepEqual(ops.names('h1'), []);
    assert.deepEqual(
      end.started.map((r) => r.name),
      ['web-4', 'web-1', 'web-2'],
    );
    assert.deepEqual(
      end.retired.map((r) => r.name),
      ['web-1', 'web-2', 'web-3'],
    );
    assert.equal(end.failures, 0);
  });

  test('parallelism 2: two at a time, at most 5 running', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', parallelism: 2, monitorMs: 0 } });
    assert.equal((await go()).phase, 'done');
    assert.equal(ops.maxRunning, 5);
    assert.equal(ops.minServing, 3);
    assert.equal(ops.ops('start').length, 3);
    assert.deepEqual(ops.names('h2').length, 3);
  });

  test('parallelism 0: all at once', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', parallelism: 0, monitorMs: 0 } });
    assert.equal((await go()).phase, 'done');
    assert.equal(ops.maxRunning, 6);
    assert.deepEqual(ops.names('h2'), ['web-4', 'web-5', 'web-6']);
  });

  test('delay between batches, not before the first', async () => {
    const { clock, go } = setup({ update: { order: 'start-first', delayMs: 2000, monitorMs: 0 } });
    assert.equal((await go()).phase, 'done');
    assert.deepEqual(clock.sleeps, [2000, 2000]);
  });

  test('scale up during the update (3 → 5) and down (3 → 2)', async () => {
    const up = setup({ update: { order: 'start-first', monitorMs: 0 }, replicas: 5 });
    assert.equal((await up.go()).phase, 'done');
    assert.equal(up.ops.names('h2').length, 5);
    assert.equal(up.ops.names('h1').length, 0);
    assert.ok(up.ops.minServing >= 3);
    const down = setup({ update: { order: 'start-first', monitorMs: 0 }, replicas: 2 });
    assert.equal((await down.go()).phase, 'done');
    assert.equal(down.ops.names('h2').length, 2);
    assert.equal(down.ops.names('h1').length, 0);
    assert.ok(down.ops.minServing >= 2);
  });
});

describe('rollout: stop-first', () => {
  test('retires one, then starts its replacement on the same index: never more than 3 running', async () => {
    const { ops, go } = setup({ update: { order: 'stop-first', monitorMs: 0 } });
    assert.equal((await go()).phase, 'done');
    assert.deepEqual(steps(ops), [
      'retire web-1 h1',
      'start web-1 h2',
      'ready web-1 h2',
      'retire web-2 h1',
      'start web-2 h2',
      'ready web-2 h2',
      'retire web-3 h1',
      'start web-3 h2',
      'ready web-3 h2',
    ]);
    assert.equal(ops.maxRunning, 3);
    assert.equal(ops.minServing, 2);
  });
});

describe('rollout: failures', () => {
  test('rollback: a new replica never ready → the reverse rollout, the old ones served throughout', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', failureAction: 'rollback', monitorMs: 0 } });
    ops.behaviour.set('h2', { sick: true });
    const end = await go();
    assert.equal(end.phase, 'rolled-back');
    // Reported as the update that failed: from runs again, to is the failed revision.
    assert.equal(end.kind, 'update');
    assert.equal(end.from.configHash, 'h1');
    assert.equal(end.to.configHash, 'h2');
    assert.match(end.failedUpdate ?? '', /web-4 did not get ready: unhealthy/);
    assert.equal(end.reason, end.failedUpdate);
    assert.deepEqual(ops.names('h1'), ['web-1', 'web-2', 'web-3']);
    assert.deepEqual(ops.names('h2'), []);
    assert.equal(ops.minServing, 3);
    assert.deepEqual(
      ops.ops('retire').map((c) => c.name),
      ['web-4'],
    );
    // The saved state a restarted agent would read is the final one.
    assert.equal(ops.lastSaved().phase, 'rolled-back');
  });

  test('rollback after some replicas moved: the old revision comes back on every slot', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', failureAction: 'rollback' } });
    // The new replicas get ready, then exit during their monitor window.
    ops.behaviour.set('h2', { flaky: true });
    const end = await go();
    assert.equal(end.phase, 'rolled-back');
    assert.match(end.failedUpdate ?? '', /failed during its 5000 ms monitor: exited with code 1/);
    assert.equal(ops.names('h1').length, 3);
    assert.deepEqual(ops.names('h2'), []);
  });

  test('rollback uses the failed revision rollback_config (here stop-first, parallelism 2)', async () => {
    const { ops, go } = setup({
      update: { order: 'start-first', parallelism: 3, failureAction: 'rollback', monitorMs: 0 },
      rollback: { order: 'stop-first', parallelism: 2, monitorMs: 0 },
    });
    ops.behaviour.set('h2', { sick: true });
    const end = await go();
    assert.equal(end.phase, 'rolled-back');
    assert.equal(end.config.parallelism, 2);
    assert.deepEqual(ops.names('h2'), []);
    assert.equal(ops.names('h1').length, 3);
  });

  test('a failed rollback ends failed, naming both', async () => {
    // The user's rollback from v1 to v2 while v2 cannot start; v1's rollback_config says rollback.
    const from = rev('web:v1', 'h1', {}, { failureAction: 'rollback', monitorMs: 0 });
    const ops = new FakeOps({ hash: 'h1', indexes: [1, 2, 3] });
    ops.behaviour.set('h2', { startFails: true });
    const state = newRolloutState({ kind: 'rollback', from, to: rev('web:v2', 'h2'), replicas: 3 });
    const end = await rollout(
      { current: ops.current(), state, ops, save: ops.save, signal: ops.controller.signal },
      { clock: new FakeClock() },
    );
    assert.equal(end.phase, 'failed');
    assert.match(end.reason ?? '', /rollback failed too: web-1 did not start: image not found/);
    assert.deepEqual(ops.names('h1'), ['web-2', 'web-3']);
  });

  test('pause: stops where it is with the reason, stays paused when called again, resumes', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', failureAction: 'pause', monitorMs: 0 } });
    ops.behaviour.set('h2', { sick: true });
    const paused = await go();
    assert.equal(paused.phase, 'paused');
    assert.match(paused.reason ?? '', /web-4 did not get ready/);
    assert.equal(paused.failures, 1);
    assert.deepEqual(ops.names('h1'), ['web-1', 'web-2', 'web-3']);
    const calls = ops.calls.length;
    assert.equal((await go(paused)).phase, 'paused');
    assert.equal(ops.calls.length, calls, 'a paused rollout does nothing until resumed');
    ops.behaviour.delete('h2');
    const done = await rollout({
      current: ops.current(),
      state: resumeState(paused),
      ops,
      save: ops.save,
      signal: ops.controller.signal,
    });
    assert.equal(done.phase, 'done');
    assert.equal(done.reason, undefined);
    // The sick web-4 was kept (it is of the new revision) and is now ready: no fourth start.
    assert.deepEqual(ops.names('h2'), ['web-1', 'web-2', 'web-4']);
    assert.equal(ops.ops('start').length, 3);
  });

  test('continue: failures are counted and the update goes on (Docker: the failed task stays)', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', failureAction: 'continue', monitorMs: 0 } });
    ops.behaviour.set('h2', { sick: true });
    const end = await go();
    assert.equal(end.phase, 'done');
    assert.equal(end.failures, 3);
    assert.equal(ops.names('h2').length, 3);
  });

  test('max_failure_ratio: 1 failure of 3 is under 0.5 and tolerated, 2 are over', async () => {
    const a = setup({
      update: { order: 'stop-first', failureAction: 'pause', maxFailureRatio: 0.5, monitorMs: 0 },
    });
    let n = 0;
    const origReady = a.ops.ready.bind(a.ops);
    a.ops.ready = async (r, t, s) => {
      if (r.configHash === 'h2' && n++ === 0) throw new Error('unhealthy');
      return origReady(r, t, s);
    };
    const end = await a.go();
    assert.equal(end.phase, 'done');
    assert.equal(end.failures, 1);
    const b = setup({
      update: { order: 'stop-first', failureAction: 'pause', maxFailureRatio: 0.5, monitorMs: 0 },
    });
    b.ops.behaviour.set('h2', { sick: true });
    const paused = await b.go();
    assert.equal(paused.phase, 'paused');
    assert.equal(paused.failures, 2);
  });

  test('continue with a revision that cannot start gives up after 2 × replicas failures', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', failureAction: 'continue', monitorMs: 0 } });
    ops.behaviour.set('h2', { startFails: true });
    const end = await go();
    assert.equal(end.phase, 'failed');
    assert.match(end.reason ?? '', /gave up after 7 failures \(web-4 did not start: image not found\)/);
    assert.deepEqual(ops.names('h1'), ['web-1', 'web-2', 'web-3']);
  });

  test('a retire that fails ends the rollout failed, naming it', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', monitorMs: 0 } });
    ops.retire = async () => {
      throw new Error('stop timed out');
    };
    const end = await go();
    assert.equal(end.phase, 'failed');
    assert.equal(end.reason, 'web: stop timed out');
  });
});

describe('rollout: state, resume and abort', () => {
  test('the state is saved before every step', async () => {
    const { ops, go } = setup({ update: { order: 'start-first' } });
    await go();
    for (let i = 1; i < ops.calls.length; i++) {
      const a = ops.calls[i - 1];
      const b = ops.calls[i];
      if (a && b && b.op !== 'monitor')
        assert.ok(b.saves > a.saves, `no save between ${a.op} ${a.name} and ${b.op} ${b.name}`);
    }
    assert.ok((ops.calls[0]?.saves ?? 0) >= 1);
  });

  for (const order of ['start-first', 'stop-first'] as const) {
    // Calls of a 3-replica rollout without monitor: 9 (start, ready, retire per replica).
    for (let crashAt = 1; crashAt <= 9; crashAt++) {
      test(`${order}: an agent killed after step ${crashAt} resumes from the saved state: no duplicates, no lost capacity`, async () => {
        const { ops, go } = setup({ update: { order, monitorMs: 0 } });
        ops.crashAtCall = crashAt;
        await assert.rejects(go(), /agent killed/);
        const saved = ops.lastSaved();
        assert.equal(saved.phase, 'running');
        // The next agent: a new signal, what runs now, the state as saved.
        ops.crashAtCall = undefined;
        ops.controller = new AbortController();
        const end = await go(saved);
        assert.equal(end.phase, 'done');
        assert.equal(ops.names('h2').length, 3);
        assert.deepEqual(ops.names('h1'), []);
        assert.equal(ops.ops('start').length, 3, 'each new replica started once');
        assert.equal(new Set(ops.current().map((r) => r.index)).size, 3);
        if (order === 'start-first') {
          assert.equal(ops.minServing, 3);
          assert.ok(ops.maxRunning <= 4);
        } else {
          assert.ok(ops.maxRunning <= 3);
          assert.ok(ops.minServing >= 2);
        }
      });
    }
  }

  test('abort: rejects with the reason, the saved state resumes', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', monitorMs: 0 } });
    const origReady = ops.ready.bind(ops);
    ops.ready = async (r, t, s) => {
      ops.controller.abort(new Error('agent stopping'));
      return origReady(r, t, s);
    };
    await assert.rejects(go(), /agent stopping/);
    const saved = ops.lastSaved();
    assert.equal(saved.phase, 'running');
    ops.ready = origReady;
    ops.controller = new AbortController();
    assert.equal((await go(saved)).phase, 'done');
    assert.equal(ops.ops('start').length, 3);
  });

  test('an agent killed during an automatic rollback resumes the rollback and ends rolled-back', async () => {
    const { ops, go } = setup({
      update: { order: 'start-first', failureAction: 'rollback', monitorMs: 0 },
      rollback: { order: 'stop-first', monitorMs: 0 },
    });
    ops.behaviour.set('h2', { sick: true });
    // start web-4, ready (fails), then the rollback's retire of web-4: killed right after it.
    ops.crashAtCall = 3;
    await assert.rejects(go(), /agent killed/);
    const saved = ops.lastSaved();
    assert.equal(saved.kind, 'rollback');
    assert.equal(saved.phase, 'running');
    assert.match(saved.failedUpdate ?? '', /web-4 did not get ready/);
    ops.crashAtCall = undefined;
    ops.controller = new AbortController();
    const end = await go(saved);
    assert.equal(end.phase, 'rolled-back');
    assert.equal(end.kind, 'update');
    assert.equal(end.from.configHash, 'h1');
    assert.deepEqual(ops.names('h1'), ['web-1', 'web-2', 'web-3']);
    assert.deepEqual(ops.names('h2'), []);
    assert.equal(ops.minServing, 3);
  });

  test('a new replica recorded as started but gone when the agent came back is replaced', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', monitorMs: 0 } });
    ops.crashAtCall = 4; // after retire web-1 (start, ready, retire, start web-1)
    await assert.rejects(go(), /agent killed/);
    const saved = ops.lastSaved();
    // web-4 (new, ready) died while no agent ran.
    const gone = ops.current().find((r) => r.name === 'web-4')?.id ?? '';
    ops.running.delete(gone);
    ops.crashAtCall = undefined;
    ops.controller = new AbortController();
    const end = await go(saved);
    assert.equal(end.phase, 'done');
    assert.equal(ops.names('h2').length, 3);
    assert.ok(!end.started.some((r) => r.id === gone));
  });

  test('a state that is done, failed or rolled back is returned as is', async () => {
    const { ops, state, go } = setup();
    for (const phase of ['done', 'failed', 'rolled-back'] as const) {
      assert.equal((await go({ ...state, phase })).phase, phase);
    }
    assert.equal(ops.calls.length, 0);
  });

  test('a user rollback follows the left revision rollback_config and ends done', () => {
    const v2 = rev('web:v2', 'h2', { parallelism: 1 }, { parallelism: 3, order: 'start-first' });
    const s = newRolloutState({ kind: 'rollback', from: v2, to: V1, replicas: 3 });
    assert.equal(s.config.parallelism, 3);
    assert.equal(s.config.order, 'start-first');
    assert.equal(s.failedUpdate, undefined);
  });
});

describe('rollout: progress', () => {
  test('says which replica it waits on, for what, and the old/new counts', async () => {
    const { ops, go } = setup({ update: { order: 'start-first', monitorMs: 0 } });
    await go();
    const waits = ops.progress.filter((p) => p.waiting).map((p) => `${p.waiting?.for} ${p.waiting?.name}`);
    assert.deepEqual(waits.slice(0, 3), ['start web-4', 'ready web-4', 'retire web-1']);
    const first = ops.progress[0];
    const last = ops.progress.at(-1);
    assert.equal(first?.oldCount, 3);
    assert.equal(first?.newCount, 0);
    assert.equal(last?.oldCount, 0);
    assert.equal(last?.newCount, 3);
    assert.equal(last?.phase, 'done');
  });
});
