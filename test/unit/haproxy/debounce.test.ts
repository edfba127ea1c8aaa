import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Debouncer } from '../../../sidecar/haproxy/debounce.js';

describe('haproxy debounce', () => {
  test('a burst fires once, after the quiet period', async () => {
    const fired: number[] = [];
    const d = new Debouncer(40, 1000, (first) => fired.push(first));
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      d.poke();
      await sleep(5);
    }
    assert.equal(fired.length, 0);
    await sleep(80);
    assert.equal(fired.length, 1);
    assert.ok((fired[0] ?? 0) - t0 < 20, 'firstAt is the first change of the batch');
    assert.equal(d.pending, false);
  });

  test('a steady trickle still fires at the max wait', async () => {
    let fired = 0;
    const d = new Debouncer(50, 120, () => fired++);
    const t0 = Date.now();
    for (let i = 0; i < 30 && fired === 0; i++) {
      d.poke();
      await sleep(20);
    }
    d.cancel();
    assert.equal(fired, 1);
    assert.ok(Date.now() - t0 < 250);
  });
});
