/**
 * The ContainerSource contract as one suite, run against every
 * implementation (STYLE.md: shared conformance suites): the in-memory fake
 * (test/unit/harness/fake-source.test.ts), berth's own runtime
 * (test/integration/containers/source-conformance.test.ts) and, when it
 * exists, observe mode's source. What every consumer relies on, the informer
 * above all: a subscription is live when `events()` returns, events of one
 * container come in order, and a subscriber that fell behind is told so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Envelope } from '../../runtime/base/events.js';
import type { ContainerSource, RuntimeEvent } from '../../runtime/types.js';

/** A source and the means to drive it: real containers for the runtime, descriptors for the fake. */
export interface SourceUnderTest {
  source: ContainerSource;
  /** Starts a running container named `name`; resolves with its id once it runs. */
  start(name: string): Promise<string>;
  /** Stops it (it stays in `list({ all: true })`). */
  stop(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

/** Reads `it` until `pred` has seen what it wants or `timeoutMs` passes; returns what was read. */
async function readUntil(
  it: AsyncIterator<Envelope<RuntimeEvent>>,
  done: (seen: Envelope<RuntimeEvent>[]) => boolean,
  timeoutMs = 20_000,
): Promise<Envelope<RuntimeEvent>[]> {
  const seen: Envelope<RuntimeEvent>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<undefined>((res) => {
        timer = setTimeout(() => res(undefined), left);
      }),
    ]);
    clearTimeout(timer);
    if (!r || r.done) break;
    seen.push(r.value);
  }
  return seen;
}

const idOf = (e: Envelope<RuntimeEvent>) => (e.event as { container?: { id: string } }).container?.id;

export function containerSourceConformance(label: string, setup: () => Promise<SourceUnderTest>): void {
  describe(`ContainerSource conformance: ${label}`, () => {
    let s: SourceUnderTest | undefined;
    let n = 0;
    const name = (what: string) => `conf-${what}-${process.pid}-${n++}`;
    before(async () => {
      s = await setup();
    });
    after(async () => {
      await s?.close();
    });

    it('a started container is listed, found by id and by name, and fully described', async () => {
      assert.ok(s);
      const nm = name('list');
      const id = await s.start(nm);
      const listed = (await s.source.list()).find((c) => c.id === id);
      assert.ok(listed, 'a running container is in list()');
      assert.match(listed.id, /^[0-9a-f]{64}$/);
      assert.equal(listed.name, nm);
      assert.equal(listed.state, 'running');
      assert.ok(['berth', 'docker', 'cri', 'cgroup'].includes(listed.source));
      assert.equal((await s.source.get(id)).name, nm);
      assert.equal((await s.source.get(nm)).id, id);
      await s.remove(id);
    });

    it('list() hides a stopped container unless all; a removed one is gone from both', async () => {
      assert.ok(s);
      const id = await s.start(name('stop'));
      await s.stop(id);
      assert.equal(
        (await s.source.list()).find((c) => c.id === id),
        undefined,
      );
      assert.ok((await s.source.list({ all: true })).find((c) => c.id === id));
      await s.remove(id);
      assert.equal(
        (await s.source.list({ all: true })).find((c) => c.id === id),
        undefined,
      );
      await assert.rejects(s.source.get(id), (err: Error & { code?: string }) => err.code === 'NotFound');
    });

    it('get() of an unknown container fails NotFound', async () => {
      assert.ok(s);
      await assert.rejects(
        s.source.get(name('nobody')),
        (err: Error & { code?: string }) => err.code === 'NotFound',
      );
    });

    it('a subscription is live when events() returns: nothing started after it is missed', async () => {
      assert.ok(s);
      const ac = new AbortController();
      const it = s.source.events({ topics: ['container.*'], signal: ac.signal })[Symbol.asyncIterator]();
      // Nothing read yet: the subscription must already be there (the informer relies on it).
      const id = await s.start(name('live'));
      const seen = await readUntil(it, (xs) =>
        xs.some((e) => e.topic === 'container.started' && idOf(e) === id),
      );
      ac.abort();
      const topics = seen.filter((e) => idOf(e) === id).map((e) => e.topic);
      assert.ok(topics.includes('container.started'), `saw ${JSON.stringify(topics)}`);
      await s.remove(id);
    });

    it('one container’s events come in order: created, started, died, removed', async () => {
      assert.ok(s);
      const ac = new AbortController();
      const it = s.source.events({ topics: ['container.*'], signal: ac.signal })[Symbol.asyncIterator]();
      const id = await s.start(name('order'));
      await s.stop(id);
      await s.remove(id);
      const seen = await readUntil(it, (xs) =>
        xs.some((e) => e.topic === 'container.removed' && idOf(e) === id),
      );
      ac.abort();
      const topics = seen
        .filter((e) => idOf(e) === id)
        .map((e) => e.topic)
        .filter((t) =>
          ['container.created', 'container.started', 'container.died', 'container.removed'].includes(t),
        );
      assert.deepEqual(topics, [
        'container.created',
        'container.started',
        'container.died',
        'container.removed',
      ]);
      for (const e of seen) assert.match(e.time, /^\d{4}-\d{2}-\d{2}T.*Z$/);
    });

    it('a topic filter delivers only its topics, and abort ends the iteration', async () => {
      assert.ok(s);
      const ac = new AbortController();
      const it = s.source
        .events({ topics: ['container.removed'], signal: ac.signal })
        [Symbol.asyncIterator]();
      const id = await s.start(name('filter'));
      await s.remove(id);
      const seen = await readUntil(it, (xs) => xs.some((e) => idOf(e) === id));
      assert.deepEqual(
        seen.filter((e) => idOf(e) === id).map((e) => e.topic),
        ['container.removed'],
      );
      ac.abort();
      const end = await it.next();
      assert.equal(end.done, true);
    });

    it('a subscriber that does not read is told it fell behind (Unavailable), never silently dropped', async () => {
      assert.ok(s);
      const ac = new AbortController();
      const it = s.source
        .events({ topics: ['container.*'], signal: ac.signal, buffer: 2 })
        [Symbol.asyncIterator]();
      const id = await s.start(name('behind')); // created + started
      await s.stop(id); // died: the third event, past the buffer of 2
      let err: unknown;
      try {
        for (let i = 0; i < 10; i++) if ((await it.next()).done) break;
      } catch (e) {
        err = e;
      }
      ac.abort();
      assert.equal((err as { code?: string } | undefined)?.code, 'Unavailable', `got ${String(err)}`);
      await s.remove(id);
    });
  });
}
