import { UnavailableError } from './errors.js';

/** Every event travels in one envelope. `time` is an ISO-8601 UTC string. */
export interface Envelope<E = unknown> {
  time: string;
  topic: string;
  event: E;
}

export interface SubscribeOptions {
  /**
   * Topic filters: exact (`container.started`) or a prefix ending in `.*`
   * (`container.*`). Empty or absent means all topics.
   */
  topics?: readonly string[];
  /** Ends the subscription; the iterator then returns normally. */
  signal?: AbortSignal;
  /**
   * Most envelopes held for a subscriber that is not reading. Past this the
   * subscription fails with `UnavailableError` (code `Unavailable`) rather than
   * dropping events silently: a consumer that fell behind resyncs from the
   * read API and subscribes again.
   */
  buffer?: number;
  /**
   * Replay first the envelopes published at or after this time (ms since
   * the epoch) that the exchange still holds (its last `history`), then go
   * on live: `berth events --since`, and a way for a client to subscribe
   * after starting something without missing its first events.
   */
  sinceMs?: number;
}

/** How many envelopes an exchange keeps for `sinceMs` (Docker's daemon keeps 256 too). */
export const EVENT_HISTORY = 256;

/**
 * The one event exchange (as containerd has it). Publishers call `publish`;
 * subscribers iterate `subscribe(...)` with `for await` and stop with an
 * AbortSignal. Delivery is in publish order per subscriber; publish never
 * blocks on a slow subscriber.
 */
export class EventExchange<E = unknown> {
  private readonly subs = new Set<Subscription<E>>();
  private published = 0;
  /** The last `history` envelopes with their times in ms, oldest first (a ring). */
  private readonly recent: { ms: number; env: Envelope<E> }[] = [];
  private next = 0;

  constructor(private readonly history = EVENT_HISTORY) {}

  publish(topic: string, event: E, time: Date = new Date()): Envelope<E> {
    const env: Envelope<E> = { time: time.toISOString(), topic, event };
    this.published++;
    if (this.history > 0) {
      if (this.recent.length < this.history) this.recent.push({ ms: time.getTime(), env });
      else this.recent[this.next] = { ms: time.getTime(), env };
      this.next = (this.next + 1) % this.history;
    }
    for (const s of this.subs) s.offer(env);
    return env;
  }

  subscribe(opts: SubscribeOptions = {}): AsyncIterable<Envelope<E>> {
    const sub = new Subscription<E>(opts, () => this.subs.delete(sub));
    // Replayed and attached in one synchronous step: nothing published in between is lost or doubled.
    if (opts.sinceMs !== undefined) {
      const since = opts.sinceMs;
      const n = this.recent.length;
      const start = n < this.history ? 0 : this.next;
      for (let i = 0; i < n; i++) {
        const r = this.recent[(start + i) % n];
        if (r && r.ms >= since) sub.offer(r.env);
      }
    }
    this.subs.add(sub);
    return sub;
  }

  /** Number of live subscriptions (for tests and self-metrics). */
  get subscribers(): number {
    return this.subs.size;
  }

  get publishedCount(): number {
    return this.published;
  }
}

export function topicMatches(filters: readonly string[] | undefined, topic: string): boolean {
  if (!filters || filters.length === 0) return true;
  return filters.some((f) => (f.endsWith('.*') ? topic.startsWith(f.slice(0, -1)) : f === topic));
}

/** FIFO with O(1) shift (Array#shift is O(n) on long arrays). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

class Subscription<E> implements AsyncIterable<Envelope<E>> {
  private readonly queue = new Fifo<Envelope<E>>();
  private waiter: ((r: IteratorResult<Envelope<E>>) => void) | undefined;
  private failWaiter: ((e: unknown) => void) | undefined;
  private done = false;
  private error: unknown;
  private readonly limit: number;

  constructor(
    private readonly opts: SubscribeOptions,
    private readonly detach: () => void,
  ) {
    this.limit = opts.buffer ?? 10_000;
    if (opts.signal?.aborted) this.finish();
    opts.signal?.addEventListener('abort', () => this.finish(), { once: true });
  }

  offer(env: Envelope<E>): void {
    if (this.done || !topicMatches(this.opts.topics, env.topic)) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      w({ value: env, done: false });
      return;
    }
    if (this.queue.length >= this.limit) {
      this.error = new UnavailableError(
        `event subscriber fell behind by more than ${this.limit} events; resync and subscribe again`,
      );
      this.finish();
      return;
    }
    this.queue.push(env);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    const w = this.waiter;
    const f = this.failWaiter;
    this.waiter = undefined;
    this.failWaiter = undefined;
    if (this.error !== undefined && f && this.queue.length === 0) f(this.error);
    else if (w && this.queue.length === 0) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<Envelope<E>> {
    return {
      next: () => {
        const head = this.queue.shift();
        if (head) return Promise.resolve({ value: head, done: false });
        if (this.done) {
          if (this.error !== undefined) {
            const e = this.error;
            this.error = undefined;
            return Promise.reject(e);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.finish();
        this.queue.clear();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
