import type { LogLine, LogQuery, WaitResult } from '../runtime.js';
import type { ContainerContext } from './context.js';

/**
 * `logs`: reads a container's log file, and with `follow` keeps reading until
 * the client goes away or the container exits for good. Attached followers
 * are counted per container: the removal of a --rm container waits for them
 * (`whenUnheld`), since its log file lives beside the record.
 */
export class LogFollow {
  private readonly holds = new Map<string, number>();
  private readonly unheldWaiters = new Map<string, Array<() => void>>();

  constructor(
    private readonly ctx: ContainerContext,
    private readonly wait: (id: string, signal?: AbortSignal) => Promise<WaitResult>,
  ) {}

  logs(idOrName: string, query: LogQuery): AsyncIterable<LogLine> {
    const r = this.ctx.find(idOrName);
    const follow =
      query.follow && (r.state === 'running' || r.state === 'restarting' || r.state === 'created');
    if (!follow) return this.ctx.d.logs.read(r.logPath, { ...query, follow: false });
    // Follow until the client goes away, or until the container exits for
    // good and the reader has drained what the monitor wrote.
    const exited = new AbortController();
    const stopWaiting = new AbortController();
    query.signal?.addEventListener('abort', () => stopWaiting.abort(), { once: true });
    void this.wait(r.id, stopWaiting.signal).then(
      () => exited.abort(),
      // Rejected only by stopWaiting: the follower went away first, nothing to end.
      () => undefined,
    );
    const signals = query.signal ? [query.signal, exited.signal] : [exited.signal];
    const it = this.ctx.d.logs.read(r.logPath, { ...query, follow: true, signal: AbortSignal.any(signals) });
    return this.held(
      r.id,
      finallyDo(it, () => stopWaiting.abort()),
    );
  }

  private async *held<T>(id: string, it: AsyncIterable<T>): AsyncGenerator<T> {
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1);
    try {
      yield* it;
    } finally {
      const n = (this.holds.get(id) ?? 1) - 1;
      if (n <= 0) {
        this.holds.delete(id);
        for (const wake of this.unheldWaiters.get(id) ?? []) wake();
        this.unheldWaiters.delete(id);
      } else this.holds.set(id, n);
    }
  }

  /** Resolves when no attached reader follows the container's log any more, or after `maxMs`. */
  whenUnheld(id: string, maxMs: number): Promise<void> {
    if (!this.holds.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      const list = this.unheldWaiters.get(id) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.unheldWaiters.set(id, list);
    });
  }
}

async function* finallyDo<T>(it: AsyncIterable<T>, fn: () => void): AsyncGenerator<T> {
  try {
    yield* it;
  } finally {
    fn();
  }
}
