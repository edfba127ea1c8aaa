/**
 * The one in-memory ContainerSource for tests (issue 13: instead of a private
 * one per test file). It keeps the ContainerSource contract as the runtime
 * does (the shared conformance suite in source-conformance.ts runs against
 * it and against the real runtime): list filters running containers unless
 * `all`, get resolves an id, a name or a unique id prefix, and a
 * subscription is live as soon as `events()` returns.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../../runtime/base/errors.js';
import { type Envelope, EventExchange, type SubscribeOptions } from '../../runtime/base/events.js';
import type {
  ContainerDescriptor,
  ContainerEvent,
  ContainerSource,
  RuntimeEvent,
} from '../../runtime/types.js';

/** A running container's descriptor with test defaults; `o` overrides any field. */
export function fakeDescriptor(o: Partial<ContainerDescriptor> = {}): ContainerDescriptor {
  const id = o.id ?? randomBytes(32).toString('hex');
  return {
    id,
    name: o.name ?? `c-${id.slice(0, 8)}`,
    image: 'busybox:latest',
    imageName: 'busybox',
    imageTag: 'latest',
    labels: {},
    env: {},
    state: 'running',
    ports: [],
    addresses: {},
    networkMode: 'none',
    health: 'none',
    createdAt: '2026-01-01T00:00:00Z',
    restartCount: 0,
    source: 'berth',
    ...o,
  };
}

export class FakeContainerSource implements ContainerSource {
  readonly containers = new Map<string, ContainerDescriptor>();
  readonly exchange = new EventExchange<RuntimeEvent>();
  /** Called by list() after it took its snapshot and before it returns: a test widens the list/subscribe window here. */
  onList: (() => void | Promise<void>) | undefined;
  /** Calls to list() so far. */
  lists = 0;

  constructor(initial: readonly ContainerDescriptor[] = []) {
    for (const c of initial) this.containers.set(c.id, c);
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerDescriptor[]> {
    this.lists++;
    const snapshot = [...this.containers.values()]
      .filter((c) => opts.all === true || c.state === 'running' || c.state === 'restarting')
      .map((c) => ({ ...c }));
    await this.onList?.();
    return snapshot;
  }

  async get(idOrName: string): Promise<ContainerDescriptor> {
    const all = [...this.containers.values()];
    const hit =
      all.find((c) => c.id === idOrName || c.name === idOrName) ??
      (() => {
        const byPrefix = all.filter((c) => idOrName.length >= 3 && c.id.startsWith(idOrName));
        return byPrefix.length === 1 ? byPrefix[0] : undefined;
      })();
    if (!hit) throw new NotFoundError(`container "${idOrName}" not found`);
    return { ...hit };
  }

  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.exchange.subscribe(opts);
  }

  /** Records the descriptor and publishes the event, as the runtime does (removed: forgets it). */
  emit(topic: string, c: ContainerDescriptor, extra: Partial<ContainerEvent> = {}): void {
    if (topic === 'container.removed') this.containers.delete(c.id);
    else this.containers.set(c.id, c);
    this.exchange.publish(topic, { container: c, ...extra });
  }

  /** created + started for a new running container; returns it. */
  start(o: Partial<ContainerDescriptor> = {}): ContainerDescriptor {
    const c = fakeDescriptor({ ...o, state: 'running' });
    this.emit('container.created', { ...c, state: 'created' });
    this.emit('container.started', c);
    return c;
  }

  /** died with `exitCode`: the container stays listed with `all`. */
  stop(id: string, exitCode = 0): void {
    const c = this.containers.get(id);
    if (c) this.emit('container.died', { ...c, state: 'exited', exitCode }, { exitCode });
  }

  /** removed: gone from every list. */
  remove(id: string): void {
    const c = this.containers.get(id);
    if (c) this.emit('container.removed', { ...c, state: 'removing' });
  }
}
