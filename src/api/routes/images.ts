import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError, messageOf } from '../../../runtime/base/errors.js';
import { REASON } from '../../../runtime/base/schema.js';
import { ndjson } from '../ndjson.js';
import {
  bodiless,
  documented,
  Flag,
  ImageSummary,
  Login,
  NoContent,
  NoQuery,
  ndjsonResponse,
  PullOptions,
  PullRecord,
  RegistryParams,
  Removed,
  responses,
} from '../schemas.js';
import type { ApiDeps } from '../types.js';
import { withUpload } from '../upload.js';
import { flag } from './containers.js';

type Query = Record<string, string | undefined>;

function requireRef(q: Query): string {
  if (!q.ref)
    throw new InvalidArgumentError('ref: an image reference is required (e.g. busybox:latest)', {
      field: 'ref',
    });
  return q.ref;
}

/** The upload routes' bodies: a docker-archive or OCI-layout tarball, or a rootfs tarball, streamed. */
const TARBALLS = ['application/x-tar', 'application/octet-stream'];

/** `ref`: checked by requireRef so that its absence keeps its own message. */
const RefQuery = Type.String({ description: 'an image reference (busybox:latest)' });

const pullSchema = {
  querystring: Type.Object({ ref: Type.Optional(RefQuery) }),
  body: Type.Union([PullOptions, Type.Null()], {
    [REASON]: 'must be an object of pull options, got {value}',
  }),
  response: ndjsonResponse(PullRecord, '{progress} records, then {image} or {error}'),
};

/** /v1/images: list, pull (NDJSON progress), load and import (tar body), tag, remove, prune. */
export function registerImageRoutes(app: FastifyInstance, { runtime }: ApiDeps): void {
  app.get(
    '/v1/images',
    { schema: { querystring: NoQuery, response: responses({ 200: Type.Array(ImageSummary) }) } },
    async () => runtime.images(),
  );

  app.post<{ Querystring: Query }>('/v1/images/pull', { schema: pullSchema }, async (req, reply) => {
    const ref = requireRef(req.query);
    const opts = (req.body ?? {}) as Record<string, unknown>;
    const out = ndjson(reply);
    try {
      const img = await runtime.pull(ref, opts, (p) => out.write({ progress: p }));
      out.write({ image: img });
    } catch (err) {
      out.write({ error: { code: (err as { code?: string }).code ?? 'Internal', message: messageOf(err) } });
    }
    out.end();
  });

  app.post<{ Querystring: Query }>(
    '/v1/images/prune',
    bodiless({
      querystring: Type.Object({ all: Type.Optional(Flag) }),
      response: responses({ 200: Removed }),
    }),
    async (req) => ({
      removed: await runtime.pruneImages({ all: flag(req.query, 'all') }),
    }),
  );

  const tagSchema = {
    querystring: Type.Object({
      source: Type.Optional(Type.String({ description: 'an image reference or id' })),
      target: Type.Optional(Type.String({ description: 'the new reference' })),
    }),
    response: responses({ 204: NoContent }),
  };
  app.post<{ Querystring: Query }>('/v1/images/tag', bodiless(tagSchema), async (req, reply) => {
    const { source, target } = req.query;
    if (!source || !target) {
      throw new InvalidArgumentError(
        `${source ? 'target' : 'source'}: required (POST /v1/images/tag?source=…&target=…)`,
        {
          field: source ? 'target' : 'source',
        },
      );
    }
    await runtime.tagImage(source, target);
    reply.code(204);
  });

  // Registry logins: the password travels in the body, over the socket or the token-guarded TCP API.
  app.get(
    '/v1/auth',
    {
      schema: {
        querystring: NoQuery,
        response: responses({ 200: Type.Object({ registries: Type.Array(Type.String()) }) }),
      },
    },
    async () => ({ registries: await runtime.logins() }),
  );
  const registryReply = responses({ 200: Type.Object({ registry: Type.String() }) });
  app.post(
    '/v1/auth',
    { schema: { querystring: NoQuery, body: Login, response: registryReply } },
    async (req) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const str = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : '');
      const registry = await runtime.login(str('registry'), {
        username: str('username'),
        password: str('password'),
        ...(str('caFile') ? { caFile: str('caFile') } : {}),
      });
      return { registry };
    },
  );
  app.delete<{ Params: { registry: string } }>(
    '/v1/auth/:registry',
    { schema: { params: RegistryParams, querystring: NoQuery, response: registryReply } },
    async (req) => ({
      registry: await runtime.logout(req.params.registry),
    }),
  );

  // A refused upload is answered with the refusal: the rest of the body is read and dropped first.
  app.post(
    '/v1/images/load',
    {
      schema: documented({
        querystring: NoQuery,
        consumes: TARBALLS,
        response: responses({ 200: Type.Object({ images: Type.Array(ImageSummary) }) }),
      }),
    },
    async (req) => ({
      images: await withUpload(req, (body) => runtime.load(body)),
    }),
  );

  app.post<{ Querystring: Query }>(
    '/v1/images/import',
    {
      schema: documented({
        querystring: Type.Object({ ref: Type.Optional(RefQuery) }),
        consumes: TARBALLS,
        response: responses({ 200: ImageSummary }),
      }),
    },
    async (req) => withUpload(req, (body) => runtime.importRootfs(body, requireRef(req.query))),
  );

  app.delete<{ Querystring: Query }>(
    '/v1/images',
    {
      schema: {
        querystring: Type.Object({ ref: Type.Optional(RefQuery), force: Type.Optional(Flag) }),
        response: responses({ 200: Removed }),
      },
    },
    async (req) => ({
      removed: await runtime.removeImage(requireRef(req.query), { force: flag(req.query, 'force') }),
    }),
  );
}
