/**
 * The OpenAPI 3.1 document (`GET /v1/openapi.json`) against the routes
 * Fastify really registered (an onRoute hook sees every one, routes other
 * modules add later included: nothing here lists them), and against the
 * shape OpenAPI 3.1 requires. No package with the official 3.1 JSON Schema
 * is installed, so the structure below restates the parts of it this
 * document uses (src/api/README.md says what else was checked); every
 * embedded schema is checked against JSON Schema 2020-12's own meta-schema.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CODES, HTTP_STATUS } from '../../../runtime/base/errors.js';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';

type Json = Record<string, unknown>;
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020') as { default: new (o: object) => AjvLike };
interface AjvLike {
  compile(s: object): ((d: unknown) => boolean) & { errors?: unknown };
  validateSchema(s: object): boolean;
  errors?: unknown;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The parts of the OpenAPI 3.1 schema (spec.openapis.org/oas/3.1/schema) this document uses. */
const OAS31 = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+(-.+)?$' },
    info: {
      type: 'object',
      required: ['title', 'version'],
      properties: { title: { type: 'string' }, version: { type: 'string' }, description: { type: 'string' } },
    },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: METHODS },
        additionalProperties: { $ref: '#/$defs/operation' },
      },
    },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', additionalProperties: { type: ['object', 'boolean'] } },
        securitySchemes: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['type'],
            properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] } },
          },
        },
      },
    },
    security: { type: 'array', items: { type: 'object', additionalProperties: { type: 'array' } } },
  },
  patternProperties: { '^x-': {} },
  additionalProperties: false,
  $defs: {
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        operationId: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        parameters: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'in', 'schema'],
            properties: {
              name: { type: 'string' },
              in: { enum: ['query', 'header', 'path', 'cookie'] },
              required: { type: 'boolean' },
              description: { type: 'string' },
              schema: { type: ['object', 'boolean'] },
              style: {
                enum: ['matrix', 'label', 'form', 'simple', 'spaceDelimited', 'pipeDelimited', 'deepObject'],
              },
              explode: { type: 'boolean' },
            },
            // A path parameter is required: true.
            anyOf: [
              { properties: { in: { not: { const: 'path' } } } },
              { required: ['required'], properties: { required: { const: true } } },
            ],
            additionalProperties: false,
          },
        },
        requestBody: {
          type: 'object',
          required: ['content'],
          properties: { required: { type: 'boolean' }, content: { $ref: '#/$defs/content' } },
          additionalProperties: false,
        },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default)$' },
          additionalProperties: {
            type: 'object',
            required: ['description'],
            properties: { description: { type: 'string' }, content: { $ref: '#/$defs/content' } },
            additionalProperties: false,
          },
        },
      },
      patternProperties: { '^x-': {} },
      additionalProperties: false,
    },
    content: {
      type: 'object',
      propertyNames: { pattern: '^[a-z]+/[a-z0-9.+-]+$' },
      additionalProperties: {
        type: 'object',
        properties: { schema: { type: ['object', 'boolean'] } },
        additionalProperties: false,
      },
    },
  },
};

/** Every JSON Schema embedded in the document (parameter, body, response, message schemas). */
function embeddedSchemas(doc: Json): Array<[string, Json]> {
  const out: Array<[string, Json]> = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const at = `${method.toUpperCase()} ${path}`;
      for (const p of (op.parameters as Json[] | undefined) ?? [])
        out.push([`${at} ${String(p.name)}`, p.schema as Json]);
      const bodies = [
        ...Object.values(((op.requestBody as Json | undefined)?.content as Record<string, Json>) ?? {}),
        ...Object.values(op.responses as Record<string, Json>).flatMap((r) =>
          Object.values((r.content as Record<string, Json> | undefined) ?? {}),
        ),
      ];
      for (const b of bodies) out.push([at, b.schema as Json]);
      if (op['x-websocket-messages']) out.push([`${at} messages`, op['x-websocket-messages'] as Json]);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  const routes: RouteOptions[] = [];
  let app: FastifyInstance;
  let doc: Json;

  before(async () => {
    const server = new ApiServer(
      { runtime: {} as Runtime, events: new EventExchange<RuntimeEvent>() },
      silentLogger(),
      () => ({ endpoints: {} }),
    );
    app = await server.build(undefined, undefined, (r) => routes.push(r));
    const r = await app.inject({ url: '/v1/openapi.json' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    doc = r.json();
  });
  after(async () => {
    await app?.close();
  });

  it('has every route Fastify registered, with its parameters', () => {
    const paths = doc.paths as Record<string, Record<string, Json>>;
    const missing: string[] = [];
    let n = 0;
    for (const r of routes) {
      for (const m of [r.method].flat()) {
        if (m === 'HEAD') continue;
        n++;
        const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
        const op = paths[path]?.[m.toLowerCase()];
        if (!op) {
          missing.push(`${m} ${r.url}`);
          continue;
        }
        // Every {param} of the path is a path parameter, and every query key a query parameter.
        const params = (op.parameters as Json[] | undefined) ?? [];
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          if (!params.some((p) => p.in === 'path' && p.name === name))
            missing.push(`${m} ${r.url}: {${name}}`);
        }
        const q = (r.schema?.querystring as { properties?: Json } | undefined)?.properties ?? {};
        for (const name of Object.keys(q)) {
          if (!params.some((p) => p.in === 'query' && p.name === name))
            missing.push(`${m} ${r.url}: ?${name}`);
        }
      }
    }
    assert.deepEqual(missing, []);
    const inDoc = Object.values(paths).reduce((s, item) => s + Object.keys(item).length, 0);
    assert.equal(inDoc, n, 'and nothing else');
    assert.ok(n >= 35, `${n} routes`);
    for (const p of ['/v1/openapi.json', '/v1/ws/logs', '/v1/ws/stats', '/v1/dashboard/login'])
      assert.ok(paths[p], p);
  });

  it('is shaped as OpenAPI 3.1 requires, with unique operation ids', () => {
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    const validate = ajv.compile(OAS31);
    assert.ok(validate(doc), JSON.stringify(validate.errors, null, 1)?.slice(0, 2000));
    const ids = Object.values(doc.paths as Record<string, Record<string, Json>>).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    assert.equal(new Set(ids).size, ids.length);
  });

  it('embeds only valid JSON Schema 2020-12', () => {
    const ajv = new Ajv2020.default({ strict: false });
    const schemas = embeddedSchemas(doc);
    assert.ok(schemas.length > 100, `${schemas.length} schemas`);
    const bad = schemas.filter(([, s]) => !ajv.validateSchema(s)).map(([at]) => at);
    assert.deepEqual(bad, []);
    // And each one compiles (a $ref that resolves nowhere would throw), the document being the root.
    const withRefs = new Ajv2020.default({ strict: false });
    (withRefs as unknown as { addSchema(s: object, k: string): void }).addSchema(doc, 'doc');
    for (const [at, s] of schemas) {
      const fixed = JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"doc#/components/')) as Json;
      assert.doesNotThrow(() => withRefs.compile(fixed), at);
    }
  });

  it('documents the error body with the closed set of codes and their statuses', () => {
    const components = doc.components as { schemas: { ErrorBody: Json } };
    const error = (components.schemas.ErrorBody.properties as Json).error as { properties: { code: Json } };
    const codes = error.properties.code;
    const listed = (codes.enum as string[] | undefined) ?? (codes.anyOf as Json[]).map((c) => c.const);
    assert.deepEqual([...listed].sort(), [...ERROR_CODES].sort());
    assert.deepEqual(doc['x-error-codes'], HTTP_STATUS);
    const op = (doc.paths as Record<string, Record<string, Json>>)['/v1/containers/{id}']?.get as Json;
    const r4 = (op.responses as Record<string, Json>)['4XX'] as { content: Record<string, Json> };
    assert.deepEqual(r4.content['application/json']?.schema, { $ref: '#/components/schemas/ErrorBody' });
    for (const code of ERROR_CODES)
      assert.match(String((doc.info as Json).description), new RegExp(`${code} ${HTTP_STATUS[code]}`));
  });
});
