import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UPDATE_DEFAULTS } from '../../../src/compose/finalize.js';
import type { ComposeUpdateConfig } from '../../../src/compose/types.js';
import type { Replica, RolloutProgress } from '../../../src/deploy/contract.js';
import { ROLLOUT_CRASH_POINTS, rolloutCrashAt } from '../../../src/deploy/rollout-crash.js';
import {
  freeIndexes,
  nextBatch,
  overFailureRatio,
  readyTimeoutMs,
} from '../../../src/deploy/rollout-plan.js';
import {
  formatRolloutProgress,
  RolloutProgressPrinter,
  rolloutTopic,
} from '../../../src/deploy/rollout-progress.js';
import { service } from './rollout-fakes.js';

const r = (index: number, hash: string): Replica => ({
  id: `${hash}-${index}`,
  name: `web-${index}`,
  index,
  configHash: hash,
});
const cfg = (o: Partial<ComposeUpdateConfig>): ComposeUpdateConfig => ({ ...UPDATE_DEFAULTS, ...o });
const plan = (live: Replica[], replicas: number, o: Partial<ComposeUpdateConfig>) => {
  const b = nextBatch(live, 'new', replicas, cfg(o));
  return b && { start: b.start, retire: b.retire.map((x) => x.name) };
};

describe('nextBatch', () => {
  test('nothing to do when exactly the replicas of the new revision run', () => {
    assert.equal(plan([r(1, 'new'), r(2, 'new')], 2, {}), null);
  });

  test('start-first: starts while under replicas + parallelism, retires what is over replicas', () => {
    const old = [r(1, 'old'), r(2, 'old'), r(3, 'old')];
    assert.deepEqual(plan(old, 3, { order: 'start-first' }), { start: 1, retire: [] });
    // Resumed with a new one ready and every old one still running: retire first, no fifth replica.
    assert.deepEqual(plan([...old, r(4, 'new')], 3, { order: 'start-first' }), {
      start: 0,
      retire: ['web-1'],
    });
  });

  test('stop-first: retires only what is over replicas − parallelism, then fills up', () => {
    const old = [r(1, 'old'), r(2, 'old'), r(3, 'old')];
    assert.deepEqual(plan(old, 3, { order: 'stop-first' }), { start: 1, retire: ['web-1'] });
    // Resumed after a retire whose replacement never started: start, retire nothing.
    assert.deepEqual(plan(old.slice(1), 3, { order: 'stop-first' }), { start: 1, retire: [] });
  });

  test('surplus new replicas retire from the highest index; failed ones first', () => {
    const live = [r(1, 'new'), r(2, 'new'), r(3, 'new')];
    assert.deepEqual(plan(live, 2, { order: 'start-first' }), { start: 0, retire: ['web-3'] });
    const b = nextBatch([r(1, 'old'), r(2, 'old'), r(4, 'new')], 'old', 2, cfg({}), new Set(['new-4']));
    assert.deepEqual(
      b?.retire.map((x) => x.name),
      ['web-4'],
    );
  });
});

describe('freeIndexes', () => {
  test('the lowest indexes no live replica holds', () => {
    assert.deepEqual(freeIndexes([r(1, 'a'), r(3, 'a')], 3), [2, 4, 5]);
    assert.deepEqual(freeIndexes([], 2), [1, 2]);
  });
});

describe('readyTimeoutMs', () => {
  test('start period + (interval + timeout) × (retries + 1) + 30 s', () => {
    assert.equal(readyTimeoutMs(service('x')), 1000 * 2 * 4 + 30_000);
    const s = service('x');
    s.healthcheck = { disable: false, startPeriodMs: 5000 };
    assert.equal(readyTimeoutMs(s), 5000 + 60_000 * 4 + 30_000);
    s.healthcheck = { disable: true };
    assert.equal(readyTimeoutMs(s), 30_000);
  });
});

describe('overFailureRatio', () => {
  test("Docker's rule: failures > ratio × replicas", () => {
    assert.equal(overFailureRatio(0, 3, 0), false);
    assert.equal(overFailureRatio(1, 3, 0), true);
    assert.equal(overFailureRatio(1, 3, 0.5), false);
    assert.equal(overFailureRatio(2, 3, 0.5), true);
    assert.equal(overFailureRatio(1, 0, 0), true);
  });
});

describe('BERTH_TEST_ROLLOUT_CRASH_AT', () => {
  test('unset is off; each point is accepted; a misspelt one names the variable and the choices', () => {
    assert.equal(rolloutCrashAt({}), undefined);
    for (const p of ROLLOUT_CRASH_POINTS) assert.equal(rolloutCrashAt({ BERTH_TEST_ROLLOUT_CRASH_AT: p }), p);
    assert.throws(
      () => rolloutCrashAt({ BERTH_TEST_ROLLOUT_CRASH_AT: 'after-ready' }),
      /BERTH_TEST_ROLLOUT_CRASH_AT: a test hook, must be one of after-new-started, after-new-ready, after-old-retired/,
    );
  });
});

describe('rollout progress', () => {
  const p = (o: Partial<RolloutProgress>): RolloutProgress => ({
    service: 'web',
    kind: 'update',
    phase: 'running',
    oldCount: 2,
    newCount: 1,
    failures: 0,
    ...o,
  });

  test('one line per state: what it waits on, how it ended and why', () => {
    assert.equal(
      formatRolloutProgress(p({ waiting: { name: 'web-4', for: 'ready' } })),
      'web  update  old 2 → new 1  waiting for ready web-4',
    );
    assert.equal(
      formatRolloutProgress(
        p({
          kind: 'rollback',
          phase: 'rolled-back',
          oldCount: 0,
          newCount: 3,
          failures: 1,
          reason: 'web-4 unhealthy',
        }),
      ),
      'web  rollback  old 0 → new 3  ROLLED BACK  1 failure  (web-4 unhealthy)',
    );
    assert.equal(rolloutTopic(p({})), 'rollout.progress');
    assert.equal(rolloutTopic(p({ phase: 'rolled-back' })), 'rollout.rolled-back');
  });

  test('a pipe gets a line per change; a terminal one line per service, redrawn', () => {
    const piped: string[] = [];
    const pipe = new RolloutProgressPrinter({ write: (s) => piped.push(s) });
    pipe.update(p({}));
    pipe.update(p({}));
    pipe.update(p({ newCount: 2, oldCount: 1 }));
    assert.deepEqual(piped, ['web  update  old 2 → new 1\n', 'web  update  old 1 → new 2\n']);
    const tty: string[] = [];
    const term = new RolloutProgressPrinter({ isTTY: true, write: (s) => tty.push(s) });
    term.update(p({}));
    term.update(p({ service: 'api' }));
    term.update(p({ newCount: 3, oldCount: 0, phase: 'done' }));
    assert.equal(tty[0], '\r\x1b[2Kweb  update  old 2 → new 1\n');
    assert.equal(tty[1], '\x1b[1A\r\x1b[2Kweb  update  old 2 → new 1\n\r\x1b[2Kapi  update  old 2 → new 1\n');
    assert.equal(
      tty[2],
      '\x1b[2A\r\x1b[2Kweb  update  old 0 → new 3  done\n\r\x1b[2Kapi  update  old 2 → new 1\n',
    );
  });
});
