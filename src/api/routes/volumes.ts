import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import {
  bodiless,
  NameParams,
  NoContent,
  NoQuery,
  Removed,
  responses,
  VolumeCreate,
  VolumeSummary,
} from '../schemas.js';
import type { ApiDeps } from '../types.js';

type NameRoute = { Params: { name: string } };

/**
 * /v1/volumes: named volumes. `POST /v1/volumes {"name"}` creates (idempotent),
 * `GET /v1/volumes[/:name]` lists or shows (with the containers that mount
 * each), `DELETE /v1/volumes/:name` removes one no container mounts (412
 * otherwise), `POST /v1/volumes/prune` removes every unused one.
 */
export function registerVolumeRoutes(app: FastifyInstance, { runtime }: ApiDeps): void {
  app.get(
    '/v1/volumes',
    { schema: { querystring: NoQuery, response: responses({ 200: Type.Array(VolumeSummary) }) } },
    async () => runtime.volumes(),
  );
  const createSchema = {
    querystring: NoQuery,
    body: VolumeCreate,
    response: responses({ 201: VolumeSummary }),
  };
  app.post('/v1/volumes', { schema: createSchema }, async (req, reply) => {
    const { name } = req.body as { name?: string };
    // Missing or empty keeps its own field, `volume`: `name` would read as `berth run --name` in the CLI.
    if (!name) {
      throw new InvalidArgumentError('volume: a volume name is required ({"name": …})', { field: 'volume' });
    }
    reply.code(201);
    return runtime.createVolume(name);
  });
  app.post(
    '/v1/volumes/prune',
    bodiless({ querystring: NoQuery, response: responses({ 200: Removed }) }),
    async () => ({ removed: await runtime.pruneVolumes() }),
  );
  app.get<NameRoute>(
    '/v1/volumes/:name',
    { schema: { params: NameParams, querystring: NoQuery, response: responses({ 200: VolumeSummary }) } },
    async (req) => runtime.inspectVolume(req.params.name),
  );
  app.delete<NameRoute>(
    '/v1/volumes/:name',
    { schema: { params: NameParams, querystring: NoQuery, response: responses({ 204: NoContent }) } },
    async (req, reply) => {
      await runtime.removeVolume(req.params.name);
      reply.code(204);
    },
  );
}
