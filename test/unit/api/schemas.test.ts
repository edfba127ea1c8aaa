import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { compileSchema } from '../../../runtime/base/schema.js';
import { CreateRequest } from '../../../runtime/oci/request.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { ContainerDescriptor, RuntimeEvent } from '../../../runtime/types.js';
import { ErrorBody } from '../../../src/api/schemas.js';
import { ApiServer } from '../../../src/api/server.js';
import { buildCreateRequest, FIELD_FLAGS, nameFlagInMessage } from '../../../src/cli/run-request.js';

const descriptor: ContainerDescriptor = {
  id: 'a'.repeat(64),
  name: 'web',
  image: 'busybox:latest',
  imageName: 'busybox',
  imageTag: 'latest',
  labels: {},
  env: { PATH: '/bin' },
  state: 'created',
  ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }],
  addresses: {},
  networkMode: 'bridge',
  health: 'none',
  createdAt: '2026-12-07T12:00:00.000Z',
  restartCount: 0,
  source: 'berth',
};

/** A runtime that records creates and answers everything else with fixed values. */
function fakeRuntime(creates: unknown[]): Runtime {
  return new Proxy({} as Runtime, {
    get(_t, prop) {
      if (prop === 'create')
        return async (req: unknown) => {
          creates.push(req);
          return descriptor;
        };
      if (prop === 'list') return async () => [descriptor];
      if (prop === 'images') return async () => [{ id: 'sha256:1', refs: ['busybox:latest'], size: 1 }];
      if (prop === 'volumes') return async () => [];
      if (prop === 'exec') return async () => ({ exitCode: 0, stdout: 'hi\n', stderr: '' });
      return async () => {
        throw new InvalidArgumentError('not in this test');
      };
    },
  });
}

describe('API schemas', () => {
  const routes: RouteOptions[] = [];
  const creates: unknown[] = [];
  let app: FastifyInstance;

  before(async () => {
    const server = new ApiServer(
      { runtime: fakeRuntime(creates), events: new EventExchange<RuntimeEvent>() },
      silentLogger(),
      () => ({ endpoints: { api: 'unix:///x' } }),
    );
    app = await server.build(undefined, undefined, (r) => routes.push(r));
  });
  after(async () => {
    await app.close();
  });

  it('every /v1 route declares its request (params, querystring, body) and responses with the error body', () => {
    const v1 = routes.filter((r) => String(r.url).startsWith('/v1/') && r.method !== 'HEAD');
    assert.ok(v1.length >= 30, `found ${v1.length} routes`);
    const missing: string[] = [];
    for (const r of v1) {
      const name = `${String(r.method)} ${r.url}`;
      const s = (r.schema ?? {}) as Record<string, unknown>;
      if (String(r.url).includes(':') && !s.params) missing.push(`${name}: params`);
      if (!s.querystring) missing.push(`${name}: querystring`);
      const reads = ['POST', 'PUT', 'PATCH'].includes(String(r.method));
      const bodyless = (r.config as { body?: boolean } | undefined)?.body === false;
      if (reads && !bodyless && !s.body && !s.consumes) missing.push(`${name}: body`);
      if (!reads && s.body) missing.push(`${name}: a body on a ${String(r.method)}`);
      const res = (s.response ?? {}) as Record<string, unknown>;
      if (!Object.keys(res).some((k) => /^(1|2)\d\d$/.test(k))) missing.push(`${name}: success response`);
      if (res['4xx'] !== ErrorBody || res['5xx'] !== ErrorBody) missing.push(`${name}: error responses`);
    }
    assert.deepEqual(missing, []);
  });

  it('refuses a bad create request naming the field, before the runtime sees it', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ image: 'busybox', ports: [80] }, 'ports[0]', /^ports\[0\]: must be a string, got 80$/],
      [{ image: 'busybox', memroy: '1g' }, 'memroy', /^memroy: unknown key$/],
      [{ image: 'busybox', labels: { a: 1 } }, 'labels.a', /must be a string/],
      [{ image: 'busybox', healthcheck: { every: '1s' } }, 'healthcheck.every', /unknown key \(known: test/],
      [{ image: 'busybox', network: 'overlay' }, 'network', /must be none, host or bridge, got "overlay"/],
      [{ ports: ['80'] }, 'image', /an image reference is required/],
      [['busybox'], 'request', /^request: must be an object/],
    ];
    for (const [body, field, msg] of cases) {
      for (const url of ['/v1/containers', '/v1/containers/run']) {
        const r = await app.inject({ method: 'POST', url, payload: body as object });
        assert.equal(r.statusCode, 400, `${url} ${JSON.stringify(body)}`);
        const e = r.json().error as { code: string; message: string; field: string };
        assert.equal(e.code, 'InvalidArgument');
        assert.equal(e.field, field);
        assert.match(e.message, msg);
        assert.ok(compileSchema(ErrorBody)(r.json()), 'the body is an ErrorBody');
      }
    }
    assert.equal(creates.length, 0, 'a rejected spec changes nothing');
    const ok = await app.inject({ method: 'POST', url: '/v1/containers', payload: { image: 'busybox' } });
    assert.equal(ok.statusCode, 201);
    assert.deepEqual(creates, [{ image: 'busybox' }], 'taken as sent: no defaults, nothing removed');
  });

  it('checks the exec body and the querystring the same way', async () => {
    const ex = await app.inject({ method: 'POST', url: '/v1/containers/web/exec', payload: { cmd: [] } });
    assert.equal(ex.statusCode, 400);
    assert.deepEqual(ex.json(), {
      error: { code: 'InvalidArgument', message: 'cmd: must be a non-empty list of strings', field: 'cmd' },
    });
    const okExec = await app.inject({
      method: 'POST',
      url: '/v1/containers/web/exec',
      payload: { cmd: ['echo'] },
    });
    assert.deepEqual(okExec.json(), { exitCode: 0, stdout: 'hi\n', stderr: '' });
    const t = await app.inject({ method: 'POST', url: '/v1/containers/web/stop?t=soon' });
    assert.equal(t.statusCode, 400);
    assert.equal(t.json().error.message, 't: must be a non-negative integer, got "soon"');
  });

  it('answers with bodies that match the declared response schemas, unchanged', async () => {
    const check = async (url: string, status: number) => {
      const r = await app.inject({ method: 'GET', url });
      const route = routes.find((x) => x.url === url.split('?')[0] && x.method === 'GET');
      const schema = (route?.schema?.response as Record<number, object> | undefined)?.[status];
      assert.ok(schema, url);
      const validate = compileSchema(schema as Record<string, unknown>);
      assert.ok(validate(r.json()), `${url}: ${JSON.stringify(validate.errors)}`);
      return r.json();
    };
    assert.deepEqual(await check('/v1/containers', 200), [descriptor]);
    await check('/v1/images', 200);
    await check('/v1/volumes', 200);
    await check('/v1/version', 200);
    // Fields the schema does not name are still sent (JSON.stringify, not a schema serializer).
    assert.deepEqual(await check('/v1/info', 200), { endpoints: { api: 'unix:///x' } });
  });

  it('the CLI names the flag for every create field, from the schema', () => {
    const fields = Object.keys(CreateRequest.properties);
    assert.deepEqual(
      fields.filter((f) => !FIELD_FLAGS[f]),
      [],
      'every field of the create request maps to a flag',
    );
    assert.equal(
      nameFlagInMessage('ports[0]: must be a string, got 80'),
      '-p/--publish (ports[0]): must be a string, got 80',
    );
    assert.equal(
      nameFlagInMessage('healthcheck.interval: "5 minutes" is not a duration'),
      '--health-* (healthcheck.interval): "5 minutes" is not a duration',
    );
    // What the CLI builds is a request the schema takes.
    const req = buildCreateRequest('busybox', ['sh'], {
      publish: ['8080:80'],
      label: ['a=b'],
      healthCmd: 'true',
      healthRetries: '3',
      entrypoint: '',
      rm: true,
      privileged: true,
    });
    const validate = compileSchema(CreateRequest);
    assert.ok(validate(req), JSON.stringify(validate.errors));
  });
});
