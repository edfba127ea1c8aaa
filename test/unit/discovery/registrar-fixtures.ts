import assert from 'node:assert/strict';
import { NotFoundError } from '../../../runtime/base/errors.js';
import { type Envelope, EventExchange, type SubscribeOptions } from '../../../runtime/base/events.js';
import type {
  ContainerDescriptor,
  ContainerEvent,
  ContainerSource,
  RuntimeEvent,
} from '../../../runtime/types.js';

/** Shared by the registrator/registrar unit tests and the Consul integration test. */

export function descriptor(o: Partial<ContainerDescriptor> = {}): ContainerDescriptor {
  return {
    id: 'a'.repeat(64),
    name: 'redis1',
    image: 'redis:7',
    imageName: 'redis',
    imageTag: '7',
    labels: {},
    env: {},
    state: 'running',
    ports: [],
    addresses: { bridge: '10.88.0.5' },
    networkMode: 'bridge',
    health: 'none',
    createdAt: '2026-01-01T00:00:00Z',
    restartCount: 0,
    source: 'berth',
    ...o,
  };
}

/** berth's own ContainerSource contract over plain descriptors and the event exchange. */
export class TestSource implements ContainerSource {
  readonly containers = new Map<string, ContainerDescriptor>();
  readonly exchange = new EventExchange<RuntimeEvent>();

  async list(opts: { all?: boolean } = {}): Promise<ContainerDescriptor[]> {
    return [...this.containers.values()].filter((c) => opts.all === true || c.state === 'running');
  }
  async get(idOrName: string): Promise<ContainerDescriptor> {
    for (const c of this.containers.values()) if (c.id === idOrName || c.name === idOrName) return c;
    throw new NotFoundError(`container "${idOrName}" not found`);
  }
  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.exchange.subscribe(opts);
  }
  /** Updates the descriptor and publishes the event, as the runtime does. */
  emit(topic: string, c: ContainerDescriptor, extra: Partial<ContainerEvent> = {}): void {
    if (topic === 'container.removed') this.containers.delete(c.id);
    else this.containers.set(c.id, c);
    this.exchange.publish(topic, { container: c, ...extra });
  }
}

export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}
