/**
 * The reconciler's loop over a fake runtime (pure logic: the real runtime,
 * HAProxy and catalog are in test/integration/deploy): a stored project is
 * converged at start, a replica that died with a policy of `no` is replaced
 * on its event, and a rollout saved as running is resumed by calling the
 * engine again with the replicas that exist.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { NotFoundError } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { ContainerDescriptor, RuntimeEvent } from '../../../runtime/types.js';
import type { RolloutOptions, RolloutState } from '../../../src/deploy/contract.js';
import { configHash } from '../../../src/deploy/hash.js';
import { loadSource } from '../../../src/deploy/project-state.js';
import { Reconciler } from '../../../src/deploy/reconciler.js';
import type { ReplicaRuntime } from '../../../src/deploy/replica-ops.js';
import { ProjectStore } from '../../../src/deploy/store.js';
import type { ProjectRecord } from '../../../src/deploy/types.js';
import { fakeDescriptor } from '../../harness/fake-source.js';
import { pollUntil } from '../../harness/proc.js';

/** Containers in a map; create/start/remove change it and publish what the runtime would. */
class FakeRuntime implements ReplicaRuntime {
  readonly containers = new Map<string, ContainerDescriptor>();
  readonly exchange = new EventExchange<RuntimeEvent>();
  created = 0;

  events = (o?: Parameters<EventExchange<RuntimeEvent>['subscribe']>[0]) => this.exchange.subscribe(o);
  async list() {
    return [...this.containers.values()];
  }
  async get(idOrName: string) {
    const c = this.containers.get(idOrName) ?? [...this.containers.values()].find((x) => x.name === idOrName);
    if (c === undefined) throw new NotFoundError(`no such container: ${idOrName}`);
    return c;
  }
  async create(req: unknown) {
    const r = req as { name: string; labels: Record<string, string> };
    const c = fakeDescriptor({ name: r.name, labels: r.labels, state: 'created' });
    this.containers.set(c.id, c);
    this.created++;
    return c;
  }
  async start(id: string) {
    const c = await this.get(id);
    c.state = 'running';
    this.exchange.publish('container.started', { container: c });
    return c;
  }
  async stop(id: string) {
    const c = await this.get(id);
    c.state = 'exited';
    c.exitCode = 143;
    return { exitCode: 143, oomKilled: false };
  }
  async remove(id: string) {
    const c = await this.get(id);
    this.containers.delete(c.id);
    this.exchange.publish('container.removed', { container: c });
  }
  async createVolume(name: string) {
    return { name, mountpoint: '', createdAt: '', anonymous: false, usedBy: [] };
  }
  logs(): AsyncIterable<never> {
    return (async function* () {})();
  }
  /** The replica's process dies with `code`; its policy (`no`) does not restart it. */
  die(name: string, code: number): void {
    const c = [...this.containers.values()].find((x) => x.name === name);
    assert.ok(c, name);
    c.state = 'exited';
    c.exitCode = code;
    c.finishedAt = new Date().toISOString();
    this.exchange.publish('container.died', { container: c, exitCode: code });
  }
}

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup(o: { rollouts?: (opts: RolloutOptions) => Promise<RolloutState> } = {}) {
  const stateRoot = await mkdtemp(join(tmpdir(), 'berth-reconciler-'));
  dirs.push(stateRoot);
  const runtime = new FakeRuntime();
  const store = new ProjectStore(stateRoot, silentLogger());
  const published: Array<{ topic: string; event: Record<string, unknown> }> = [];
  const reconciler = new Reconciler({
    runtime: runtime as unknown as ReplicaRuntime & Pick<FakeRuntime, 'events'>,
    store,
    readiness: { waitingFor: () => undefined },
    ...(o.rollouts
      ? {
          rollouts: {
            rollout: o.rollouts,
            newState: () => {
              throw new Error('not in this test');
            },
          },
        }
      : {}),
    publish: (topic, event) => published.push({ topic, event }),
    logger: silentLogger(),
    resyncMs: 60_000,
  });
  return { runtime, store, reconciler, published };
}

const source = (image: string) => ({
  files: [
    {
      path: '/srv/p/compose.yaml',
      content: `name: p\nservices:\n  web:\n    image: ${image}\n    deploy: { replicas: 2 }\n`,
    },
  ],
  projectDir: '/srv/p',
  env: {},
});

function record(image: string): ProjectRecord {
  const project = loadSource(source(image));
  const web = project.services.web;
  assert.ok(web);
  return {
    schemaVersion: 1,
    name: 'p',
    origin: 'api',
    source: source(image),
    project,
    scale: {},
    removeOrphans: false,
    revisions: { web: { current: { service: web, configHash: configHash(web) } } },
    rollouts: {},
    appliedAt: new Date().toISOString(),
  };
}

const names = (rt: FakeRuntime) =>
  [...rt.containers.values()]
    .filter((c) => c.state === 'running')
    .map((c) => c.name)
    .sort();

describe('Reconciler', () => {
  test('a stored project is converged at start; a replica that died is replaced on its event', async () => {
    const { runtime, store, reconciler, published } = await setup();
    await store.save(record('web:1'));
    await reconciler.start();
    try {
      await pollUntil('two replicas', async () => (names(runtime).length === 2 ? true : undefined), 5000, 10);
      assert.deepEqual(names(runtime), ['p-web-1', 'p-web-2']);
      const old = [...runtime.containers.values()].find((c) => c.name === 'p-web-2');
      runtime.die('p-web-2', 1);
      await pollUntil(
        'p-web-2 replaced',
        async () => {
          const now = [...runtime.containers.values()].find(
            (c) => c.name === 'p-web-2' && c.state === 'running',
          );
          return now && now.id !== old?.id ? true : undefined;
        },
        5000,
        10,
      );
      assert.equal(runtime.containers.size, 2, 'the dead one is gone, no duplicate');
      assert.ok(published.some((p) => p.topic === 'project.replica.replaced'));
    } finally {
      await reconciler.close();
    }
  });

  test('a rollout saved as running is resumed with the replicas that exist', async () => {
    const calls: RolloutOptions[] = [];
    const { runtime, store, reconciler } = await setup({
      rollouts: async (opts) => {
        calls.push(opts);
        return { ...opts.state, phase: 'done' };
      },
    });
    const rec = record('web:2');
    const from = record('web:1').revisions.web?.current;
    const to = rec.revisions.web?.current;
    assert.ok(from && to);
    // Two replicas of the old revision run, as the agent left them.
    for (const i of [1, 2]) {
      const c = fakeDescriptor({
        name: `p-web-${i}`,
        labels: {
          'berth.project': 'p',
          'berth.service': 'web',
          'com.docker.compose.container-number': String(i),
          'com.docker.compose.config-hash': from.configHash,
        },
      });
      runtime.containers.set(c.id, c);
    }
    const now = new Date().toISOString();
    rec.rollouts.web = {
      service: 'web',
      kind: 'update',
      from,
      to,
      replicas: 2,
      config: to.service.deploy.updateConfig,
      phase: 'running',
      started: [],
      retired: [],
      failures: 0,
      startedAt: now,
      updatedAt: now,
    };
    await store.save(rec);
    await reconciler.start();
    try {
      await pollUntil('the rollout resumed', async () => (calls.length > 0 ? true : undefined), 5000, 10);
      assert.deepEqual(
        calls[0]?.current.map((r) => [r.name, r.configHash === from.configHash]),
        [
          ['p-web-1', true],
          ['p-web-2', true],
        ],
      );
      assert.equal(runtime.created, 0, 'the planner left the service to the rollout');
      await pollUntil(
        'the end recorded',
        async () => ((await store.list())[0]?.rollouts.web?.phase === 'done' ? true : undefined),
        5000,
        10,
      );
    } finally {
      await reconciler.close();
    }
  });
});
