import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CODES, HTTP_STATUS } from '../../runtime/base/errors.js';
import { VERSION } from '../version.js';
import { ErrorBody, NoQuery, responses } from './schemas.js';

type Json = Record<string, unknown>;

/** Fastify's `:id` params become OpenAPI's `{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * A plain JSON copy of a TypeBox schema: TypeBox's symbols (Kind, Optional)
 * are dropped by JSON, the rest is JSON Schema 2020-12 as OpenAPI 3.1 takes it.
 */
const plain = (s: unknown): Json => JSON.parse(JSON.stringify(s)) as Json;

const ERROR_REF = { $ref: '#/components/schemas/ErrorBody' };

/**
 * The OpenAPI 3.1 document of the routes in `routes`, generated from the
 * schemas they declare (src/api/schemas.ts and the route files): params and
 * querystring become parameters, `body` the JSON request body (`consumes`
 * for uploads), `response` the responses (`4xx`/`5xx` → `4XX`/`5XX`, the
 * shared `ErrorBody` by reference, an NDJSON response as given), a
 * WebSocket's `messages` `x-websocket-messages`. HEAD routes (Fastify adds
 * one per GET) are left out.
 */
export function openApiDocument(routes: readonly RouteOptions[], opts: { title: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  const ids = new Set<string>();
  for (const r of routes) {
    for (const method of [r.method].flat()) {
      if (method === 'HEAD') continue;
      const path = openApiPath(r.url);
      let id = `${method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`;
      while (ids.has(id)) id += '_';
      ids.add(id);
      paths[path] ??= {};
      paths[path][method.toLowerCase()] = operation(r, id);
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: opts.title,
      version: VERSION,
      description:
        'The berth agent API (src/api/README.md). Every error is an ErrorBody whose `code` is one of a closed set, each with its HTTP status: ' +
        ERROR_CODES.map((c) => `${c} ${HTTP_STATUS[c]}`).join(', ') +
        '. WebSocket routes answer a GET upgrade (101); their messages are described by `x-websocket-messages`.',
    },
    paths,
    components: {
      schemas: { ErrorBody: plain(ErrorBody) },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the TCP listener (apiToken)' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'berth_session',
          description: 'the dashboard listener: the session cookie from /login (with sessionKey)',
        },
        sessionKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Berth-Session-Key',
          description:
            'the dashboard listener: the session key the login redirect handed the page in its fragment (/#k=KEY), on every API request; on a WebSocket upgrade as the subprotocol entry berth.session.KEY (answered berth.session)',
        },
      },
    },
    // The unix socket needs nothing (its file mode is the access control); TCP the token; the dashboard
    // its session cookie and key together.
    security: [{}, { bearer: [] }, { session: [], sessionKey: [] }],
    'x-error-codes': Object.fromEntries(ERROR_CODES.map((c) => [c, HTTP_STATUS[c]])),
  };
}

function operation(r: RouteOptions, operationId: string): Json {
  const s = (r.schema ?? {}) as Json & {
    params?: TSchema;
    querystring?: TSchema;
    body?: TSchema;
    response?: Record<string, unknown>;
    consumes?: string[];
    messages?: TSchema;
    description?: string;
    summary?: string;
  };
  const tag = r.url.split('/').filter(Boolean)[1] ?? 'root';
  const parameters: Json[] = [];
  for (const [where, schema] of [
    ['path', s.params],
    ['query', s.querystring],
  ] as const) {
    if (!schema) continue;
    const obj = plain(schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, p] of Object.entries(obj.properties ?? {})) {
      const repeatable = Array.isArray(p.anyOf);
      parameters.push({
        name,
        in: where,
        required: where === 'path' || (obj.required ?? []).includes(name),
        ...(typeof p.description === 'string' ? { description: p.description } : {}),
        schema: p,
        ...(repeatable ? { style: 'form', explode: true } : {}),
      });
    }
  }
  const op: Json = {
    operationId,
    tags: [tag],
    ...(s.summary ? { summary: s.summary } : {}),
    ...(s.description ? { description: s.description } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: responsesOf(s.response ?? {}),
  };
  if (s.body) {
    op.requestBody = { required: true, content: { 'application/json': { schema: plain(s.body) } } };
  } else if (s.consumes) {
    op.requestBody = {
      required: true,
      content: Object.fromEntries(
        s.consumes.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }]),
      ),
    };
  }
  if (s.messages) op['x-websocket-messages'] = plain(s.messages);
  return op;
}

function responsesOf(res: Record<string, unknown>): Json {
  const out: Json = {};
  for (const [status, value] of Object.entries(res)) {
    const key = status.replace(/xx$/, 'XX');
    if (value === ErrorBody) {
      out[key] = {
        description: 'an error (ErrorBody)',
        content: { 'application/json': { schema: ERROR_REF } },
      };
      continue;
    }
    const v = plain(value);
    // ndjsonResponse gives the OpenAPI response itself (its media type is not JSON).
    if (v.content && typeof v.description === 'string') {
      out[key] = v;
      continue;
    }
    const description = typeof v.description === 'string' ? v.description : `status ${status}`;
    // 204 and 101 carry no body (NoContent, SwitchingProtocols are `null`).
    if (v.type === 'null') out[key] = { description };
    else out[key] = { description, content: { 'application/json': { schema: v } } };
  }
  return out;
}

/**
 * `GET /v1/openapi.json`: the document of `app`'s own routes, collected by an
 * onRoute hook (`routes`) so routes other modules register later are in it
 * too; built at the first request, when every route is registered.
 */
export function registerOpenApiRoute(
  app: FastifyInstance,
  routes: readonly RouteOptions[],
  title: string,
): void {
  let doc: Json | undefined;
  app.get(
    '/v1/openapi.json',
    {
      schema: {
        querystring: NoQuery,
        response: responses({ 200: Type.Object({}, { description: 'an OpenAPI 3.1 document' }) }),
      },
    },
    async () => {
      doc ??= openApiDocument(routes, { title });
      return doc;
    },
  );
}
