import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../base/backoff.js';
import type { Logger } from '../base/log.js';
import type { ContainerDescriptor, ContainerEvent, ContainerSource, ContainerTopic } from '../types.js';

/**
 * What a consumer of a ContainerSource is told. Calls are serial: the next
 * one waits until the previous handler's promise settled, so a handler may
 * await (the log pipeline opens files) without seeing events out of order.
 */
export interface InformerHandlers {
  /** A container seen for the first time: in a (re)list, or by an event. */
  add?(c: ContainerDescriptor): void | Promise<void>;
  /** A known container changed: `topic` says how (`container.died`, …; `resync` when a relist found it changed). */
  update?(
    c: ContainerDescriptor,
    topic: ContainerTopic | 'resync',
    event: ContainerEvent | undefined,
  ): void | Promise<void>;
  /** A container is gone (its `removed` event, or absent from a relist). */
  remove?(c: ContainerDescriptor): void | Promise<void>;
}

export interface InformerOptions {
  /** Stopped containers too (`list({ all: true })`); default only running ones. */
  all?: boolean;
  logger?: Logger;
  /** Events held for this informer while it is busy; past it the subscription fails and it relists. */
  buffer?: number;
  /** First wait before relisting after a failure; doubles up to 5 s. */
  retryMs?: number;
}

/**
 * Keeps a local copy of a ContainerSource and hands out add/update/remove,
 * as client-go's informer does, without the gap that listing first leaves:
 *
 *   1. subscribe (the subscription is live when `events()` returns: the
 *      ContainerSource contract, checked by its conformance suite);
 *   2. list, and apply it as a diff against the copy (adds, updates, and
 *      removes for what is gone);
 *   3. apply the events that arrived meanwhile, then follow.
 *
 * An event that arrived during the list may be older than the list's view of
 * that container; applying events in order converges on the last state all
 * the same (the last event is never older than the list for the container it
 * names). A lost subscription (the consumer fell behind: `Unavailable`) or a
 * failed list starts again at 1, after a short backoff; never silence.
 */
export class ContainerInformer {
  private readonly known = new Map<string, ContainerDescriptor>();
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private firstSync: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Relists done (1 after start); a metric and a test hook. */
  relists = 0;

  constructor(
    private readonly source: ContainerSource,
    private readonly handlers: InformerHandlers,
    private readonly opts: InformerOptions = {},
  ) {}

  /** Starts following; resolves once the first list has been applied. */
  start(): Promise<void> {
    if (!this.firstSync) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.firstSync = { promise, resolve };
      this.loop = this.run();
    }
    return this.firstSync.promise;
  }

  /** The containers as last seen, by id. */
  list(): ContainerDescriptor[] {
    return [...this.known.values()];
  }

  get(id: string): ContainerDescriptor | undefined {
    return this.known.get(id);
  }

  /** Stops following; resolves when the current handler call has returned. */
  async close(): Promise<void> {
    this.ac.abort();
    this.firstSync?.resolve();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    const backoff = new Backoff({ initialMs: this.opts.retryMs ?? 100, maxMs: 5000, jitter: 0 });
    while (!signal.aborted) {
      try {
        // 1. Subscribe before listing: what starts while we list is queued for us.
        const events = this.source.events({
          topics: ['container.*'],
          signal,
          buffer: this.opts.buffer ?? 10_000,
        });
        // 2. List and apply as a diff.
        const listed = await this.source.list({ all: this.opts.all ?? false });
        if (signal.aborted) return;
        this.relists++;
        await this.applyList(listed);
        this.firstSync?.resolve();
        backoff.reset();
        // 3. Then the events, those queued during the list first.
        for await (const env of events) {
          const ev = env.event as ContainerEvent;
          if (!ev?.container) continue;
          await this.applyEvent(env.topic as ContainerTopic, ev);
        }
        if (signal.aborted) return;
        this.opts.logger?.warn('container events ended; listing again');
        await pause(backoff.next(), signal);
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoff.next();
        this.opts.logger?.warn({ err, retryInMs: delay }, 'container events lost; listing again');
        await pause(delay, signal);
      }
    }
  }

  private wanted(c: ContainerDescriptor): boolean {
    return this.opts.all === true || c.state === 'running' || c.state === 'restarting';
  }

  private async applyList(listed: ContainerDescriptor[]): Promise<void> {
    const seen = new Set<string>();
    for (const c of listed) {
      seen.add(c.id);
      const before = this.known.get(c.id);
      this.known.set(c.id, c);
      if (!before) await this.call('add', () => this.handlers.add?.(c));
      else if (changed(before, c))
        await this.call('update', () => this.handlers.update?.(c, 'resync', undefined));
    }
    for (const [id, c] of [...this.known]) {
      if (seen.has(id)) continue;
      this.known.delete(id);
      await this.call('remove', () => this.handlers.remove?.(c));
    }
  }

  private async applyEvent(topic: ContainerTopic, ev: ContainerEvent): Promise<void> {
    const c = ev.container;
    const before = this.known.get(c.id);
    if (topic === 'container.removed' || !this.wanted(c)) {
      if (!before) return;
      this.known.delete(c.id);
      await this.call('remove', () => this.handlers.remove?.(c));
      return;
    }
    this.known.set(c.id, c);
    if (!before) await this.call('add', () => this.handlers.add?.(c));
    else await this.call('update', () => this.handlers.update?.(c, topic, ev));
  }

  /** A handler that throws is logged with its reason; it never stops the informer. */
  private async call(what: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.opts.logger?.warn({ err, handler: what }, 'container informer handler failed');
    }
  }
}

function changed(a: ContainerDescriptor, b: ContainerDescriptor): boolean {
  return (
    a.state !== b.state ||
    a.health !== b.health ||
    a.pid !== b.pid ||
    a.restartCount !== b.restartCount ||
    a.startedAt !== b.startedAt
  );
}

/** Waits `ms`, or less when `signal` aborts (close): the abort ends the wait, it is not an error. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}
