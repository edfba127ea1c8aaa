/**
 * The /v1 response schemas (src/api/schemas.ts) against what the real
 * runtime answers: the API over berth's runtime in this process (runc,
 * conmon), every JSON answer checked against the schema its route declares
 * for that status, so a schema cannot drift from the wire. Needs root (runc,
 * cgroups, overlayfs) and `bash .ci/setup.sh test`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { compileSchema } from '../../../runtime/base/schema.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';
import { type InProcessRuntime, startRuntimeInProcess } from '../../harness/runtime.js';

describe('API responses match their schemas (real runtime)', () => {
  let rt: InProcessRuntime;
  let app: FastifyInstance;
  const routes = new Map<string, RouteOptions>();

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root (runc, cgroups, overlayfs)');
    rt = await startRuntimeInProcess();
    const server = new ApiServer(
      { runtime: rt.manager, events: new EventExchange<RuntimeEvent>() },
      silentLogger(),
      () => ({ endpoints: { api: 'unix:///test' }, containers: 0 }),
    );
    app = await server.build(undefined, undefined, (r) => {
      for (const m of [r.method].flat()) routes.set(`${m} ${r.url}`, r);
    });
  });
  after(async () => {
    await app?.close();
    await rt?.close();
  });

  /** Sends the request and checks the answer against `route`'s declared response for its status. */
  async function call(
    route: string,
    url: string,
    payload?: object,
  ): Promise<{ status: number; body: unknown }> {
    const [method = 'GET'] = route.split(' ');
    const r = await app.inject({ method: method as 'GET', url, ...(payload ? { payload } : {}) });
    const opts = routes.get(route);
    assert.ok(opts, `no route ${route}`);
    const responses = (opts.schema?.response ?? {}) as Record<string, Record<string, unknown>>;
    const schema =
      responses[String(r.statusCode)] ??
      responses[`${String(r.statusCode)[0]}xx`] ??
      assert.fail(`${route}: no schema for ${r.statusCode}`);
    const body = r.body === '' ? null : r.json();
    const validate = compileSchema(schema);
    assert.ok(
      validate(body),
      `${route} ${r.statusCode}: ${JSON.stringify(validate.errors)} in ${r.body.slice(0, 300)}`,
    );
    return { status: r.statusCode, body };
  }

  it('containers, exec, volumes, images and the agent', async () => {
    const created = await call('POST /v1/containers', '/v1/containers', {
      image: rt.image,
      name: 'api-schema',
      cmd: ['sleep', '600'],
      network: 'none',
      labels: { a: 'b' },
      volumes: ['api-schema-vol:/data'],
      healthcheck: { test: ['CMD', 'true'], interval: '1s' },
    });
    assert.equal(created.status, 201);
    assert.equal(
      (await call('POST /v1/containers/:id/start', '/v1/containers/api-schema/start')).status,
      200,
    );
    const list = await call('GET /v1/containers', '/v1/containers?all=1');
    assert.ok((list.body as Array<{ name: string }>).some((c) => c.name === 'api-schema'));
    const inspected = await call('GET /v1/containers/:id', '/v1/containers/api-schema');
    assert.equal((inspected.body as { state: string }).state, 'running');
    const ex = await call('POST /v1/containers/:id/exec', '/v1/containers/api-schema/exec', {
      cmd: ['echo', 'hi'],
    });
    assert.deepEqual(ex.body, { exitCode: 0, stdout: 'hi\n', stderr: '' });
    const vols = await call('GET /v1/volumes', '/v1/volumes');
    assert.ok((vols.body as Array<{ name: string }>).some((v) => v.name === 'api-schema-vol'));
    await call('GET /v1/volumes/:name', '/v1/volumes/api-schema-vol');
    await call('GET /v1/images', '/v1/images');
    await call('GET /v1/version', '/v1/version');
    await call('GET /v1/info', '/v1/info');
    const stopped = await call('POST /v1/containers/:id/stop', '/v1/containers/api-schema/stop?t=1');
    assert.equal(typeof (stopped.body as { exitCode: number }).exitCode, 'number');
    await call('POST /v1/containers/:id/wait', '/v1/containers/api-schema/wait');
    assert.equal((await call('DELETE /v1/containers/:id', '/v1/containers/api-schema')).status, 204);
    assert.equal((await call('DELETE /v1/volumes/:name', '/v1/volumes/api-schema-vol')).status, 204);
    // Errors are ErrorBody, through the 4xx schema.
    assert.equal((await call('GET /v1/containers/:id', '/v1/containers/api-schema')).status, 404);
    const bad = await call('POST /v1/containers', '/v1/containers', { image: rt.image, memory: 'lots' });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { field: string } }).error.field, 'memory');
  });
});
