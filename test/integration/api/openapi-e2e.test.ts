/**
 * The OpenAPI document (`GET /v1/openapi.json`) against what a real agent
 * answers over its socket: an end-to-end run (image loaded, container
 * created, started, listed, inspected, its logs, stats, events on NDJSON
 * and WebSockets, stopped, removed, and errors) where every answer is
 * validated (ajv, JSON Schema 2020-12) against the schema the document
 * gives for that path, method, status and media type.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

type Json = Record<string, unknown>;
type Validate = ((d: unknown) => boolean) & { errors?: unknown };
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020') as {
  default: new (o: object) => { addSchema(s: object, key: string): void; compile(s: object): Validate };
};

const IMAGE = 'test/busybox:openapi';

interface Answer {
  status: number;
  type: string;
  body: string;
}

describe('OpenAPI document against a real agent', () => {
  let agent: TestAgent;
  let dir: string;
  let doc: Json;
  let ajv: InstanceType<(typeof Ajv2020)['default']>;
  const checked: string[] = [];

  function send(method: string, path: string, body?: unknown, raw?: NodeJS.ReadableStream): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          socketPath: agent.socket,
          method,
          path,
          headers: {
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(raw ? { 'content-type': 'application/x-tar' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers['content-type'] ?? ''),
              body: text,
            }),
          );
        },
      );
      req.on('error', reject);
      if (raw) raw.pipe(req);
      else req.end(payload);
    });
  }

  /** The document's schema for an answer: the path template, method, status (or its NXX range) and media type. */
  function schemaFor(method: string, template: string, status: number, media: string): Json {
    const op = (doc.paths as Record<string, Record<string, Json>>)[template]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${template} is not in the document`);
    const responses = op.responses as Record<string, Json>;
    const r = responses[String(status)] ?? responses[`${String(status)[0]}XX`];
    assert.ok(r, `${method} ${template}: no response ${status} in the document`);
    const content = r.content as Record<string, { schema: Json }> | undefined;
    if (!content) return { type: 'null' };
    const schema = content[media]?.schema;
    assert.ok(schema, `${method} ${template} ${status}: no ${media} in ${Object.keys(content)}`);
    return schema;
  }

  function check(what: string, schema: Json, value: unknown): void {
    // The document is registered as `doc`: its component references resolve there.
    const fixed = JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'),
    ) as Json;
    const validate = ajv.compile(fixed);
    assert.ok(
      validate(value),
      `${what}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(value).slice(0, 400)}`,
    );
    checked.push(what);
  }

  /** Calls the agent and validates the answer against the document; returns it parsed. */
  async function call(
    method: string,
    template: string,
    path: string,
    body?: unknown,
    raw?: NodeJS.ReadableStream,
  ) {
    const a = await send(method, path, body, raw);
    const what = `${method} ${path} ${a.status}`;
    if (a.type.startsWith('application/x-ndjson')) {
      const schema = schemaFor(method, template, a.status, 'application/x-ndjson');
      const lines = a.body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
      lines.forEach((l, i) => {
        check(`${what} line ${i}`, schema, l);
      });
      return { status: a.status, body: lines as unknown };
    }
    const value = a.body === '' ? null : (JSON.parse(a.body) as unknown);
    check(what, schemaFor(method, template, a.status, 'application/json'), value);
    return { status: a.status, body: value };
  }

  /** A WebSocket's messages until `enough`, each validated against the route's x-websocket-messages. */
  async function wsMessages(
    template: string,
    path: string,
    enough: (n: unknown[]) => boolean,
  ): Promise<unknown[]> {
    const op = (doc.paths as Record<string, Record<string, Json>>)[template]?.get;
    const schema = op?.['x-websocket-messages'] as Json | undefined;
    assert.ok(schema, `${template}: no x-websocket-messages`);
    const ws = new WebSocket(`ws+unix://${agent.socket}:${path}`);
    const got: unknown[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d))));
    try {
      await pollUntil(`messages on ${path}`, async () => enough(got) || undefined, 20_000, 50);
    } finally {
      ws.terminate();
    }
    got.forEach((m, i) => {
      check(`WS ${path} message ${i}`, schema, m);
    });
    return got;
  }

  before(async () => {
    dir = await tempDir('api-openapi');
    agent = await startAgent();
    const a = await send('GET', '/v1/openapi.json');
    assert.equal(a.status, 200);
    doc = JSON.parse(a.body) as Json;
    ajv = new Ajv2020.default({ strict: false, allErrors: true });
    ajv.addSchema(doc, 'doc');
  });
  after(async () => {
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  it('every answer of a container lifecycle matches the document', async () => {
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, outDir: dir });
    const loaded = await call('POST', '/v1/images/load', '/v1/images/load', undefined, createReadStream(tar));
    assert.equal(loaded.status, 200);
    await call('GET', '/v1/images', '/v1/images');
    await call('GET', '/v1/version', '/v1/version');
    await call('GET', '/v1/info', '/v1/info');
    await call('GET', '/v1/volumes', '/v1/volumes');

    const created = await call('POST', '/v1/containers', '/v1/containers', {
      image: IMAGE,
      name: 'oa',
      cmd: ['sh', '-c', 'echo hello; echo oops >&2; while :; do sleep 1; done'],
      labels: { 'com.docker.compose.project': 'oa', 'com.docker.compose.service': 'web' },
      healthcheck: { test: ['CMD', 'true'], interval: '1s' },
    });
    assert.equal(created.status, 201);
    const clash = await call('POST', '/v1/containers', '/v1/containers', { image: IMAGE, name: 'oa' });
    assert.equal(clash.status, 409);
    const bad = await call('POST', '/v1/containers', '/v1/containers', { image: IMAGE, memory: 'lots' });
    assert.equal(bad.status, 400);

    const events = wsMessages('/v1/ws/events', '/v1/ws/events?topic=container.*', (m) =>
      m.some((e) => (e as { topic: string }).topic === 'container.died'),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await call('POST', '/v1/containers/{id}/start', '/v1/containers/oa/start')).status, 200);
    await call('GET', '/v1/containers', '/v1/containers?all=1');
    await call('GET', '/v1/containers/{id}', '/v1/containers/oa');
    await pollUntil(
      'both lines in the log',
      async () => {
        const logs = await call('GET', '/v1/containers/{id}/logs', '/v1/containers/oa/logs?tail=all');
        return (logs.body as unknown[]).length >= 2 || undefined;
      },
      10_000,
    );
    await wsMessages('/v1/ws/logs', '/v1/ws/logs?project=oa&tail=all', (m) => m.length >= 1);
    await call('GET', '/v1/stats', '/v1/stats?name=oa&name=nope');
    await wsMessages('/v1/ws/stats', '/v1/ws/stats?interval=250ms', (m) => m.length >= 2);
    await call('GET', '/v1/openapi.json', '/v1/openapi.json');

    const stopped = await call('POST', '/v1/containers/{id}/stop', '/v1/containers/oa/stop?t=1');
    assert.equal(stopped.status, 200);
    await events;
    await call('POST', '/v1/containers/{id}/wait', '/v1/containers/oa/wait');
    assert.equal((await call('DELETE', '/v1/containers/{id}', '/v1/containers/oa')).status, 204);
    assert.equal((await call('GET', '/v1/containers/{id}', '/v1/containers/oa')).status, 404);
    assert.equal(
      (await call('POST', '/v1/containers/{id}/stop', '/v1/containers/oa/stop?t=soon')).status,
      400,
    );
    assert.equal((await call('POST', '/v1/dashboard/login', '/v1/dashboard/login')).status, 200);
    assert.ok(checked.length >= 25, `${checked.length} answers checked`);
  });
});
