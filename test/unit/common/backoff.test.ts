import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, backoffDelay } from '../../../runtime/base/backoff.js';

describe('Backoff', () => {
  it('grows by the factor from the initial delay up to the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    assert.deepEqual(
      Array.from({ length: 7 }, () => b.next()),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
    assert.equal(b.attempts, 7);
    const slow = new Backoff({ initialMs: 10, maxMs: 1000, factor: 3, jitter: 0 });
    assert.deepEqual([slow.next(), slow.next(), slow.next()], [10, 30, 90]);
  });

  it('starts again at the initial delay after reset', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 400, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 50);
  });

  it('takes jitter off the nominal delay, never adds to it (equal jitter by default)', () => {
    // random() = 0 → the nominal delay; 1 → nominal × (1 − jitter).
    assert.equal(
      backoffDelay(2, { initialMs: 100, maxMs: 1000 }, () => 0),
      400,
    );
    assert.equal(
      backoffDelay(2, { initialMs: 100, maxMs: 1000 }, () => 1),
      200,
    );
    assert.equal(
      backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 1 }, () => 1),
      0,
    );
    assert.equal(
      backoffDelay(9, { initialMs: 100, maxMs: 1000, jitter: 0.2 }, () => 1),
      800,
    );
    for (let i = 0; i < 200; i++) {
      const d = new Backoff({ initialMs: 100, maxMs: 1000 }).next();
      assert.ok(d >= 50 && d <= 100, `first delay ${d} outside [50, 100]`);
      const capped = backoffDelay(20, { initialMs: 100, maxMs: 1000 });
      assert.ok(capped >= 500 && capped <= 1000, `capped delay ${capped} outside [500, 1000]`);
    }
  });

  it('uses the injected random source', () => {
    const draws = [0, 0.5, 1];
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: 0.5 }, () => draws.shift() ?? 0);
    assert.deepEqual([b.next(), b.next(), b.next()], [100, 150, 200]);
  });

  it('stays finite and whole after any number of attempts, also from 0 ms', () => {
    assert.equal(backoffDelay(5000, { initialMs: 100, maxMs: 30_000, jitter: 0 }), 30_000);
    assert.equal(backoffDelay(5000, { initialMs: 0, maxMs: 30_000, jitter: 0 }), 0);
    assert.equal(backoffDelay(-1, { initialMs: 100, maxMs: 30_000, jitter: 0 }), 100);
    assert.ok(Number.isInteger(backoffDelay(3, { initialMs: 0.3, maxMs: 30_000 })));
  });
});
