import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContainerInformer, type InformerOptions } from '../../../runtime/source/informer.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { pollUntil } from '../../harness/proc.js';

/** Waits (bounded) until `pred` holds. */
const until = (what: string, pred: () => boolean, timeoutMs = 3000) =>
  pollUntil(what, async () => (pred() ? true : undefined), timeoutMs, 5);

function recorder() {
  const log: string[] = [];
  const live = new Map<string, ContainerDescriptor>();
  return {
    log,
    live,
    handlers: {
      add: (c: ContainerDescriptor) => {
        log.push(`add ${c.name}`);
        live.set(c.id, c);
      },
      update: (c: ContainerDescriptor, topic: string) => {
        log.push(`update ${c.name} ${topic}`);
        live.set(c.id, c);
      },
      remove: (c: ContainerDescriptor) => {
        log.push(`remove ${c.name}`);
        live.delete(c.id);
      },
    },
  };
}

describe('ContainerInformer: subscribe, list, apply, follow', () => {
  it('misses nothing started while the first list is in flight (list-then-subscribe did)', async () => {
    const source = new FakeContainerSource([fakeDescriptor({ name: 'before' })]);
    // The list takes its snapshot, then other containers start before it returns.
    source.onList = () => {
      source.onList = undefined;
      for (let i = 0; i < 5; i++) source.start({ name: `during-${i}` });
    };
    const r = recorder();
    const inf = new ContainerInformer(source, r.handlers);
    await inf.start();
    await until('all six known', () => r.live.size === 6, 2000);
    assert.deepEqual([...r.live.values()].map((c) => c.name).sort(), [
      'before',
      'during-0',
      'during-1',
      'during-2',
      'during-3',
      'during-4',
    ]);
    await inf.close();
  });

  it('hands out add, update and remove as containers change; stopped ones go unless all', async () => {
    const source = new FakeContainerSource();
    const r = recorder();
    const inf = new ContainerInformer(source, r.handlers);
    await inf.start();
    const a = source.start({ name: 'a' });
    source.emit('container.healthy', { ...a, health: 'healthy' });
    source.stop(a.id);
    await until('a removed', () => r.log.includes('remove a'), 2000);
    assert.deepEqual(r.log, ['add a', 'update a container.healthy', 'remove a']);
    await inf.close();

    const all = recorder();
    const withStopped = new ContainerInformer(source, all.handlers, { all: true });
    await withStopped.start();
    const b = source.start({ name: 'b' });
    source.stop(b.id);
    source.remove(b.id);
    await until('b removed', () => all.log.includes('remove b'), 2000);
    assert.deepEqual(all.log.slice(-3), [
      'update b container.started',
      'update b container.died',
      'remove b',
    ]);
    await withStopped.close();
  });

  it('a subscription that fell behind relists and repairs the copy (adds and removes what it missed)', async () => {
    const keep = fakeDescriptor({ name: 'keep' });
    const gone = fakeDescriptor({ name: 'gone' });
    const source = new FakeContainerSource([keep, gone]);
    const r = recorder();
    let release!: () => void;
    const blocked = new Promise<void>((res) => {
      release = res;
    });
    let first = true;
    const inf = new ContainerInformer(
      source,
      {
        ...r.handlers,
        // The consumer is stuck in a handler while events pile up past the buffer.
        add: async (c) => {
          r.handlers.add(c);
          if (first && c.name === 'late-0') {
            first = false;
            await blocked;
          }
        },
      },
      { buffer: 3, retryMs: 1 },
    );
    await inf.start();
    source.start({ name: 'late-0' });
    await until('late-0 seen', () => r.live.size === 3, 2000);
    for (let i = 1; i <= 5; i++) source.start({ name: `late-${i}` });
    source.remove(gone.id);
    release();
    await until('relisted and repaired', () => r.live.size === 7 && !r.live.has(gone.id), 3000);
    assert.ok(inf.relists >= 2, `relists: ${inf.relists}`);
    assert.deepEqual([...r.live.values()].map((c) => c.name).sort(), [
      'keep',
      'late-0',
      'late-1',
      'late-2',
      'late-3',
      'late-4',
      'late-5',
    ]);
    await inf.close();
  });

  it('a handler that throws is logged and does not stop the informer', async () => {
    const source = new FakeContainerSource();
    const warnings: unknown[] = [];
    const logger = { warn: (o: unknown) => warnings.push(o) } as unknown as NonNullable<
      InformerOptions['logger']
    >;
    const seen: string[] = [];
    const inf = new ContainerInformer(
      source,
      {
        add: (c) => {
          if (c.name === 'bad') throw new Error('boom');
          seen.push(c.name);
        },
      },
      { logger },
    );
    await inf.start();
    source.start({ name: 'bad' });
    source.start({ name: 'good' });
    await until('good seen', () => seen.includes('good'), 2000);
    assert.equal(warnings.length, 1);
    await inf.close();
  });
});
