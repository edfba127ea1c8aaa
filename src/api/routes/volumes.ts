import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { ApiDeps } from '../types.js';

type NameParams = { Params: { name: string } };

/**
 * /v1/volumes: named volumes. `POST /v1/volumes {"name"}` creates (idempotent),
 * `GET /v1/volumes[/:name]` lists or shows (with the containers that mount
 * each), `DELETE /v1/volumes/:name` removes one no container mounts (412
 * otherwise), `POST /v1/volumes/prune` removes every unused one.
 */
export function registerVolumeRoutes(app: FastifyInstance, { runtime }: ApiDeps): void {
  app.get('/v1/volumes', async () => runtime.volumes());
  app.post('/v1/volumes', async (req, reply) => {
    const name = (req.body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError('volume: a volume name is required ({"name": …})', { field: 'volume' });
    }
    reply.code(201);
    return runtime.createVolume(name);
  });
  app.post('/v1/volumes/prune', async () => ({ removed: await runtime.pruneVolumes() }));
  app.get<NameParams>('/v1/volumes/:name', async (req) => runtime.inspectVolume(req.params.name));
  app.delete<NameParams>('/v1/volumes/:name', async (req, reply) => {
    await runtime.removeVolume(req.params.name);
    reply.code(204);
  });
}
