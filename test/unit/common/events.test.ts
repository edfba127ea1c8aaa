import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUnavailable } from '../../../runtime/base/errors.js';
import { type Envelope, EventExchange, topicMatches } from '../../../runtime/base/events.js';

async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) {
    out.push(v);
    if (out.length === n) break;
  }
  return out;
}

describe('event exchange', () => {
  it('delivers envelopes in publish order to every subscriber', async () => {
    const ex = new EventExchange<number>();
    const a = take(ex.subscribe(), 3);
    const b = take(ex.subscribe(), 3);
    for (const n of [1, 2, 3]) ex.publish('container.started', n, new Date(Date.UTC(2026, 0, 1)));
    const [ra, rb] = await Promise.all([a, b]);
    assert.deepEqual(
      ra.map((e) => e.event),
      [1, 2, 3],
    );
    assert.deepEqual(ra, rb);
    assert.deepEqual(ra[0], { time: '2026-01-01T00:00:00.000Z', topic: 'container.started', event: 1 });
    assert.equal(ex.subscribers, 0, 'break detaches');
  });

  it('filters by exact topic and by prefix', async () => {
    assert.ok(topicMatches(['container.*'], 'container.died'));
    assert.ok(!topicMatches(['container.*'], 'image.pulled'));
    assert.ok(topicMatches(['image.pulled'], 'image.pulled'));
    assert.ok(topicMatches([], 'anything'));
    const ex = new EventExchange<string>();
    const got = take(ex.subscribe({ topics: ['image.*'] }), 1);
    ex.publish('container.started', 'c');
    ex.publish('image.loaded', 'i');
    assert.equal(((await got)[0] as Envelope<string>).event, 'i');
  });

  it('ends a subscription when its signal aborts, even while waiting', async () => {
    const ex = new EventExchange();
    const ac = new AbortController();
    const seen: unknown[] = [];
    const done = (async () => {
      for await (const e of ex.subscribe({ signal: ac.signal })) seen.push(e);
    })();
    ex.publish('a', 1);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await done;
    assert.equal(seen.length, 1);
    assert.equal(ex.subscribers, 0);
  });

  it('fails a subscriber that falls behind instead of dropping silently', async () => {
    const ex = new EventExchange<number>();
    const it = ex.subscribe({ buffer: 2 })[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) ex.publish('t', i);
    assert.equal(ex.subscribers, 0);
    // What was queued before the overflow is still delivered, then the error.
    assert.equal((await it.next()).value?.event, 0);
    assert.equal((await it.next()).value?.event, 1);
    await assert.rejects(it.next(), (err: unknown) => isUnavailable(err) && /fell behind/.test(String(err)));
  });

  it('since: replays what it still holds from that time on, in order and filtered, then goes on live', async () => {
    const ex = new EventExchange<number>(4);
    const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n));
    // Six published into a history of four: 0 and 1 are gone, 2..5 are held.
    for (let n = 0; n < 6; n++) ex.publish(n % 2 === 0 ? 'container.started' : 'image.pulled', n, at(n));
    const all = take(ex.subscribe({ sinceMs: at(1).getTime() }), 5);
    const started = take(ex.subscribe({ sinceMs: at(3).getTime(), topics: ['container.*'] }), 2);
    ex.publish('container.started', 6, at(6));
    assert.deepEqual(
      (await all).map((e) => e.event),
      [2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      (await started).map((e) => e.event),
      [4, 6],
    );
    // Without since, only live ones; a future since replays nothing.
    const live = take(ex.subscribe(), 1);
    const none = take(ex.subscribe({ sinceMs: at(60).getTime() }), 1);
    ex.publish('container.died', 7, at(7));
    assert.deepEqual(
      (await live).map((e) => e.event),
      [7],
    );
    assert.deepEqual(
      (await none).map((e) => e.event),
      [7],
    );
  });
});
