/**
 * GET /v1/containers with an observe source (src/api/routes/containers.ts):
 * berth's own containers, then the observed ones the runtime does not know
 * (one listed once when both have it), `?source=` keeping one source and
 * documented as an enum; a verb on an observed container is
 * FailedPrecondition naming it, on an unknown one still NotFound.
 * test/integration/observe/ps.test.ts does the same through `berth ps`
 * against real agents.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';

const mine = fakeDescriptor({ name: 'web' });
const stopped = fakeDescriptor({ name: 'old', state: 'exited' });
const dk = fakeDescriptor({ name: 'shop', source: 'docker' });
const pod = fakeDescriptor({ name: 'k8s_app_pod_ns_uid_0', source: 'cri' });
// berth's own container seen by the observer as well (its cgroup under a parent not skipped).
const twice = fakeDescriptor({ ...mine, source: 'cgroup' });

/** berth's runtime: lists its own, knows no other container. */
const own = new FakeContainerSource([mine, stopped]);
const runtime = new Proxy({} as Runtime, {
  get(_t, prop) {
    if (prop === 'list') return own.list.bind(own);
    return async (id: string) => {
      if (id === mine.name || id === mine.id) return mine;
      throw new NotFoundError(`no such container: ${id}`);
    };
  },
});

describe('GET /v1/containers with observed containers', () => {
  let app: FastifyInstance;
  before(async () => {
    const server = new ApiServer(
      {
        runtime,
        events: new EventExchange<RuntimeEvent>(),
        observed: new FakeContainerSource([dk, pod, twice]),
      },
      silentLogger(),
      () => ({ endpoints: {} }),
    );
    app = await server.build(undefined);
  });
  after(async () => {
    await app?.close();
  });

  const names = async (url: string) => {
    const r = await app.inject({ url });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as Array<{ name: string; source: string }>).map((c) => `${c.source}:${c.name}`);
  };

  it('lists berth’s own, then the observed ones, each once', async () => {
    assert.deepEqual(await names('/v1/containers'), ['berth:web', 'docker:shop', 'cri:k8s_app_pod_ns_uid_0']);
    assert.deepEqual(await names('/v1/containers?all=1'), [
      'berth:web',
      'berth:old',
      'docker:shop',
      'cri:k8s_app_pod_ns_uid_0',
    ]);
  });

  it('?source= keeps one source; an unknown one is refused naming the values', async () => {
    assert.deepEqual(await names('/v1/containers?source=docker'), ['docker:shop']);
    assert.deepEqual(await names('/v1/containers?source=cri'), ['cri:k8s_app_pod_ns_uid_0']);
    assert.deepEqual(await names('/v1/containers?source=berth&all=1'), ['berth:web', 'berth:old']);
    assert.deepEqual(await names('/v1/containers?source=cgroup'), [], 'the duplicate is berth’s');
    const bad = await app.inject({ url: '/v1/containers?source=podman' });
    assert.equal(bad.statusCode, 400);
    const err = (bad.json() as { error: { code: string; message: string; field?: string } }).error;
    assert.equal(err.code, 'InvalidArgument');
    assert.match(err.message, /must be berth, docker, cri or cgroup, not "podman"/);
  });

  it('refuses the verbs on an observed container with FailedPrecondition, naming it', async () => {
    for (const [method, url, verb] of [
      ['POST', `/v1/containers/shop/stop`, 'stop'],
      ['POST', `/v1/containers/shop/restart`, 'restart'],
      ['POST', `/v1/containers/shop/start`, 'start'],
      ['POST', `/v1/containers/shop/kill`, 'kill'],
      ['DELETE', `/v1/containers/shop?force=1`, 'remove'],
    ] as const) {
      const r = await app.inject({ method, url });
      assert.equal(r.statusCode, 412, `${verb}: ${r.body}`);
      const err = (r.json() as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'FailedPrecondition');
      assert.equal(
        err.message,
        `cannot ${verb} shop (${dk.id.slice(0, 12)}): observed, not run by berth (source docker): use docker`,
      );
    }
    const cri = await app.inject({ method: 'POST', url: `/v1/containers/${pod.id.slice(0, 12)}/stop` });
    assert.match((cri.json() as { error: { message: string } }).error.message, /use kubectl or crictl$/);
    const unknown = await app.inject({ method: 'POST', url: '/v1/containers/nothing/stop' });
    assert.equal(unknown.statusCode, 404);
    const inspect = await app.inject({ url: '/v1/containers/shop' });
    assert.equal(inspect.statusCode, 200);
    assert.equal((inspect.json() as { source: string }).source, 'docker');
  });

  it('documents ?source= as an enum in /v1/openapi.json', async () => {
    const doc = (await app.inject({ url: '/v1/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<string, { parameters?: Array<{ in: string; name: string; schema: unknown }> }>
      >;
    };
    const p = doc.paths['/v1/containers']?.get?.parameters?.find(
      (x) => x.in === 'query' && x.name === 'source',
    );
    assert.deepEqual((p?.schema as { enum?: string[] } | undefined)?.enum, [
      'berth',
      'docker',
      'cri',
      'cgroup',
    ]);
  });
});
