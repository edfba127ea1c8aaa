import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';

/**
 * The /v1/projects edge: hostile bodies and names are refused by the route
 * schemas with the field and the reason before anything reaches the
 * reconciler; an agent without one answers NotImplemented.
 */
let app: FastifyInstance;

before(async () => {
  const server = new ApiServer(
    { runtime: {} as Runtime, events: new EventExchange<RuntimeEvent>() },
    silentLogger(),
    () => ({ endpoints: {} }),
  );
  app = await server.build(undefined);
});

after(async () => {
  await app?.close();
});

const put = (name: string, body: unknown) =>
  app.inject({ method: 'PUT', url: `/v1/projects/${name}`, payload: body as Record<string, unknown> });

const message = (r: { json(): unknown }): string =>
  (r.json() as { error: { message: string } }).error.message;

describe('/v1/projects request checks', () => {
  const file = { path: '/srv/shop/compose.yaml', content: 'services: {}\n' };

  test('a project name that is not one', async () => {
    const r = await put('Bad..Name', { files: [file] });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /name: must be a project name/);
  });

  test('no files, a relative path, an unknown key, a negative scale', async () => {
    let r = await put('shop', { files: [] });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /files: one to 32 Compose files/);
    r = await put('shop', { files: [{ path: 'compose.yaml', content: '' }] });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /files\[0\]\.path: must be an absolute path/);
    r = await put('shop', { files: [file], model: {} });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /model/);
    r = await put('shop', { files: [file], scale: { web: -1 } });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /scale\.web/);
  });

  test('scale takes a whole number of replicas', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/projects/shop/services/web/scale',
      payload: { replicas: 'three' },
    });
    assert.equal(r.statusCode, 400);
    assert.match(message(r), /replicas: must be an integer, got "three"/);
  });

  test('an agent without a reconciler says so', async () => {
    const r = await put('shop', { files: [file] });
    assert.equal(r.statusCode, 501);
    assert.match(message(r), /runs no reconciler/);
  });
});
