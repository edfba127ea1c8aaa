import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContainerNameIndex } from '../../../sidecar/dns/container-names.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';

/**
 * The DNS name index scoped by the asking client's networks (as on a Compose
 * network): names, aliases and bare service names on the client's networks
 * only; the host sees every name. Fed by a fake source (pure logic).
 */
const svc = (project: string, service: string) => ({
  'com.docker.compose.project': project,
  'com.docker.compose.service': service,
});

function sample() {
  return new FakeContainerSource([
    fakeDescriptor({ name: 'a1', addresses: { neta: '10.89.0.2' }, createdAt: '2026-01-01T00:00:01Z' }),
    fakeDescriptor({
      name: 'web-1',
      addresses: { neta: '10.89.0.3' },
      aliases: { neta: ['www'] },
      labels: svc('p', 'web'),
      health: 'healthy',
      createdAt: '2026-01-01T00:00:02Z',
    }),
    fakeDescriptor({
      name: 'web-2',
      addresses: { neta: '10.89.0.4' },
      labels: svc('p', 'web'),
      health: 'none',
      createdAt: '2026-01-01T00:00:03Z',
    }),
    fakeDescriptor({
      name: 'web-3',
      addresses: { neta: '10.89.0.5' },
      labels: svc('p', 'web'),
      health: 'unhealthy',
      createdAt: '2026-01-01T00:00:04Z',
    }),
    fakeDescriptor({ name: 'b1', addresses: { netb: '10.89.1.2' }, createdAt: '2026-01-01T00:00:05Z' }),
    fakeDescriptor({
      name: 'both',
      addresses: { netb: '10.89.1.3', neta: '10.89.0.6' },
      createdAt: '2026-01-01T00:00:06Z',
    }),
    fakeDescriptor({ name: 'old', addresses: { bridge: '10.88.0.2' }, createdAt: '2026-01-01T00:00:07Z' }),
  ]);
}

describe('ContainerNameIndex scopes', () => {
  test('a client on A resolves A’s names, aliases and healthy service replicas, never B’s', async () => {
    const idx = new ContainerNameIndex(sample());
    await idx.start();
    const s = idx.scope('10.89.0.2').names;
    assert.equal(s.get('web-1'), '10.89.0.3');
    assert.deepEqual(s.get('www'), ['10.89.0.3']);
    // Healthy and no-healthcheck replicas; the unhealthy one is left out.
    assert.deepEqual(s.get('web'), ['10.89.0.3', '10.89.0.4']);
    assert.equal(s.get('b1'), undefined);
    assert.equal(s.get('old'), undefined, 'the default network’s names leak into A');
    // A container on A and B is answered with its A address to an A client.
    assert.equal(s.get('both'), '10.89.0.6');
    await idx.close();
  });

  test('a client on B sees B only; one on A and B sees both; the host sees every name', async () => {
    const idx = new ContainerNameIndex(sample());
    await idx.start();
    const b = idx.scope('10.89.1.2').names;
    assert.equal(b.get('web-1'), undefined);
    assert.equal(b.get('web'), undefined);
    assert.equal(b.get('both'), '10.89.1.3');
    const ab = idx.scope('10.89.1.3');
    assert.equal(ab.names.get('a1'), '10.89.0.2');
    assert.equal(ab.names.get('b1'), '10.89.1.2');
    // Equal network sets share one scope (and the answer cache).
    assert.equal(idx.scope('10.89.0.6').key, ab.key);
    const host = idx.scope('127.0.0.1');
    assert.equal(host.key, '');
    assert.equal(host.names.get('b1'), '10.89.1.2');
    assert.equal(host.names.get('old'), '10.88.0.2');
    await idx.close();
  });

  test('a change (connect, a replica turning healthy, a stop) makes a new generation', async () => {
    const src = sample();
    const idx = new ContainerNameIndex(src);
    await idx.start();
    const before = idx.scope('10.89.0.2');
    const b1 = (await src.list()).find((d) => d.name === 'b1');
    assert.ok(b1);
    src.emit('container.connected', { ...b1, addresses: { ...b1.addresses, neta: '10.89.0.9' } });
    await new Promise((r) => setTimeout(r, 20));
    const after = idx.scope('10.89.0.2');
    assert.notEqual(after.generation, before.generation);
    assert.equal(after.names.get('b1'), '10.89.0.9');
    src.stop(b1.id);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(idx.scope('10.89.0.2').names.get('b1'), undefined);
    await idx.close();
  });
});
