import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError, messageOf } from '../../../runtime/base/errors.js';
import { ndjson } from '../ndjson.js';
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

/** /v1/images: list, pull (NDJSON progress), load and import (tar body), tag, remove, prune. */
export function registerImageRoutes(app: FastifyInstance, { runtime }: ApiDeps): void {
  app.get('/v1/images', async () => runtime.images());

  app.post<{ Querystring: Query }>('/v1/images/pull', async (req, reply) => {
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

  app.post<{ Querystring: Query }>('/v1/images/prune', async (req) => ({
    removed: await runtime.pruneImages({ all: flag(req.query, 'all') }),
  }));

  app.post<{ Querystring: Query }>('/v1/images/tag', async (req, reply) => {
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
  app.get('/v1/auth', async () => ({ registries: await runtime.logins() }));
  app.post('/v1/auth', async (req) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : '');
    const registry = await runtime.login(str('registry'), {
      username: str('username'),
      password: str('password'),
      ...(str('caFile') ? { caFile: str('caFile') } : {}),
    });
    return { registry };
  });
  app.delete<{ Params: { registry: string } }>('/v1/auth/:registry', async (req) => ({
    registry: await runtime.logout(req.params.registry),
  }));

  // A refused upload is answered with the refusal: the rest of the body is read and dropped first.
  app.post('/v1/images/load', async (req) => ({
    images: await withUpload(req, (body) => runtime.load(body)),
  }));

  app.post<{ Querystring: Query }>('/v1/images/import', async (req) =>
    withUpload(req, (body) => runtime.importRootfs(body, requireRef(req.query))),
  );

  app.delete<{ Querystring: Query }>('/v1/images', async (req) => ({
    removed: await runtime.removeImage(requireRef(req.query), { force: flag(req.query, 'force') }),
  }));
}
