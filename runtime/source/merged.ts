import { NotFoundError } from '../base/errors.js';
import type { Envelope, SubscribeOptions } from '../base/events.js';
import type { ContainerDescriptor, ContainerSource, RuntimeEvent } from '../types.js';

/**
 * Several ContainerSources as one (`berth agent --mode both`: berth's own
 * runtime and observe mode's source). Each container belongs to one source,
 * so its events keep their order; a subscription subscribes to every source
 * when `events()` is called (live at once, as the contract wants), and one
 * that falls behind in any source fails the merged one with that error.
 */
export class MergedSource implements ContainerSource {
  constructor(private readonly sources: readonly ContainerSource[]) {}

  async list(opts?: { all?: boolean }): Promise<ContainerDescriptor[]> {
    return (await Promise.all(this.sources.map((s) => s.list(opts)))).flat();
  }

  async get(idOrName: string): Promise<ContainerDescriptor> {
    for (const s of this.sources) {
      try {
        return await s.get(idOrName);
      } catch (err) {
        if ((err as { code?: string }).code !== 'NotFound') throw err;
      }
    }
    throw new NotFoundError(`container "${idOrName}" not found`);
  }

  events(opts: SubscribeOptions = {}): AsyncIterable<Envelope<RuntimeEvent>> {
    const ac = new AbortController();
    const outer = opts.signal;
    const onAbort = () => ac.abort();
    if (outer?.aborted) ac.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    // Each source's next event is already taken (the pending `next()` below), so each holds one
    // less: a subscriber that does not read falls behind at the same count as on one source.
    const buffer = opts.buffer === undefined ? {} : { buffer: Math.max(0, opts.buffer - 1) };
    const its = this.sources.map((s) =>
      s.events({ ...opts, ...buffer, signal: ac.signal })[Symbol.asyncIterator](),
    );
    const pending = new Map<number, Promise<{ i: number; r: IteratorResult<Envelope<RuntimeEvent>> }>>();
    const arm = (i: number) => {
      const it = its[i];
      if (it)
        pending.set(
          i,
          it.next().then((r) => ({ i, r })),
        );
    };
    its.forEach((_, i) => {
      arm(i);
    });
    const end = () => {
      outer?.removeEventListener('abort', onAbort);
      ac.abort();
    };
    const iterator: AsyncIterator<Envelope<RuntimeEvent>> = {
      async next() {
        while (pending.size > 0) {
          let got: { i: number; r: IteratorResult<Envelope<RuntimeEvent>> };
          try {
            got = await Promise.race(pending.values());
          } catch (err) {
            end();
            pending.clear();
            throw err;
          }
          pending.delete(got.i);
          if (got.r.done) continue;
          arm(got.i);
          return got.r;
        }
        end();
        return { value: undefined, done: true };
      },
      async return() {
        end();
        return { value: undefined, done: true };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }
}
