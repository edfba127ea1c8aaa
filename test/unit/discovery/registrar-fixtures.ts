import assert from 'node:assert/strict';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { fakeDescriptor } from '../../harness/fake-source.js';

/** Shared by the registrator/registrar unit tests and the Consul integration test. */

export function descriptor(o: Partial<ContainerDescriptor> = {}): ContainerDescriptor {
  return fakeDescriptor({
    id: 'a'.repeat(64),
    name: 'redis1',
    image: 'redis:7',
    imageName: 'redis',
    imageTag: '7',
    addresses: { bridge: '10.88.0.5' },
    networkMode: 'bridge',
    ...o,
  });
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
