import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex, Mutex } from '../../../runtime/base/keyed-mutex.js';

describe('KeyedMutex', () => {
  it('runs the sections of one key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const section = (name: string, ms: number) => async () => {
      inside++;
      most = Math.max(most, inside);
      log.push(`${name}>`);
      await sleep(ms);
      log.push(`<${name}`);
      inside--;
      return name;
    };
    const results = await Promise.all([
      m.run('a', section('1', 20)),
      m.run('a', section('2', 1)),
      m.run('a', section('3', 5)),
    ]);
    assert.deepEqual(results, ['1', '2', '3']);
    assert.equal(most, 1);
    assert.deepEqual(log, ['1>', '<1', '2>', '<2', '3>', '<3']);
  });

  it('runs different keys in parallel', async () => {
    const m = new KeyedMutex();
    let inside = 0;
    let most = 0;
    const section = async () => {
      inside++;
      most = Math.max(most, inside);
      await sleep(20);
      inside--;
    };
    await Promise.all([m.run('a', section), m.run('b', section), m.run('c', section)]);
    assert.equal(most, 3);
  });

  it('releases the key when a section rejects or throws, and hands the error to its caller only', async () => {
    const m = new KeyedMutex();
    const failed = m.run('a', async () => {
      await sleep(5);
      throw new Error('async boom');
    });
    const threw = m.run('a', () => {
      throw new Error('sync boom');
    });
    const after = m.run('a', async () => 'still runs');
    await assert.rejects(failed, /async boom/);
    await assert.rejects(threw, /sync boom/);
    assert.equal(await after, 'still runs');
  });

  it('forgets a key once its last section has settled', async () => {
    const m = new KeyedMutex<number>();
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) runs.push(m.run(i % 50, async () => i));
    assert.equal(m.size, 50);
    assert.equal(m.isLocked(7), true);
    await Promise.all(runs);
    await sleep(0);
    assert.equal(m.size, 0);
    assert.equal(m.isLocked(7), false);
    await m.run(7, () => undefined).catch(() => undefined);
    await m.run(7, () => Promise.reject(new Error('x'))).catch(() => undefined);
    await sleep(0);
    assert.equal(m.size, 0);
  });
});

describe('Mutex', () => {
  it('is the one-key case: serial, released on error', async () => {
    const m = new Mutex();
    const log: number[] = [];
    const a = m.run(async () => {
      await sleep(10);
      log.push(1);
    });
    const b = m.run(async () => {
      log.push(2);
      throw new Error('b');
    });
    assert.equal(m.locked, true);
    const c = m.run(() => log.push(3));
    await a;
    await assert.rejects(b, /b/);
    assert.equal(await c, 3);
    assert.deepEqual(log, [1, 2, 3]);
    await sleep(0);
    assert.equal(m.locked, false);
  });
});

describe('Mutex.drain', () => {
  it('waits for the sections queued before it, failed ones included, and never rejects', async () => {
    const m = new Mutex();
    const done: string[] = [];
    void m.run(async () => {
      await sleep(10);
      done.push('a');
    });
    m.run(async () => {
      await sleep(5);
      done.push('b');
      throw new Error('b');
    }).catch(() => undefined);
    await m.drain();
    assert.deepEqual(done, ['a', 'b']);
    await m.drain();
  });
});
