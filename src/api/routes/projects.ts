import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { messageOf, NotImplementedError } from '../../../runtime/base/errors.js';
import { REASON } from '../../../runtime/base/schema.js';
import type { Projects } from '../../deploy/projects.js';
import { drained } from '../backpressure.js';
import { ndjson } from '../ndjson.js';
import {
  bodiless,
  Flag,
  LogLine,
  LogQuery,
  NoQuery,
  ndjsonResponse,
  Repeated,
  responses,
  StreamError,
} from '../schemas.js';
import type { ApiDeps } from '../types.js';
import { flag, logQuery } from './containers.js';

/**
 * /v1/projects: Compose projects, desired state the reconciler keeps
 * (src/deploy). `PUT /v1/projects/:name` is `berth up`: the body carries the
 * Compose files' contents and what interpolation sees; the agent loads and
 * checks them itself (a model built by the client is never trusted), so a
 * refusal is a 400 naming file:line:col and the key, and nothing running
 * changes. The shapes below are what `berth services`/`ps` and the
 * dashboard's Compose view read.
 */

const PROJECT_NAME = '^[a-z0-9][a-z0-9_-]{0,62}$';
const SERVICE_NAME = '^[a-zA-Z0-9._-]{1,128}$';

export const ProjectParams = Type.Object({
  name: Type.String({
    pattern: PROJECT_NAME,
    description: 'project name',
    [REASON]:
      'must be a project name (lowercase letters, digits, _ and -, starting with a letter or digit), got {value}',
  }),
});
export const ServiceParams = Type.Object({
  name: ProjectParams.properties.name,
  service: Type.String({
    pattern: SERVICE_NAME,
    description: 'service name',
    [REASON]: 'is not a service name: {value}',
  }),
});

export const ProjectUp = Type.Object(
  {
    files: Type.Array(
      Type.Object(
        {
          path: Type.String({
            pattern: '^/',
            description: 'the file as the user named it, absolute (errors name it; labels carry it)',
            [REASON]: 'must be an absolute path, got {value}',
          }),
          content: Type.String({ maxLength: 4 * 1024 * 1024, description: 'the Compose file text' }),
        },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: 32,
        description: 'Compose files, merged in order',
        [REASON]: 'one to 32 Compose files',
      },
    ),
    projectDir: Type.Optional(
      Type.String({ pattern: '^/', description: 'where relative paths and .env are found' }),
    ),
    env: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'the environment interpolation sees' }),
    ),
    envFiles: Type.Optional(
      Type.Array(Type.String({ pattern: '^/' }), { description: '--env-file, absolute' }),
    ),
    profiles: Type.Optional(Type.Array(Type.String(), { description: 'active profiles' })),
    scale: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 1000 }), {
        description: 'replicas per service over deploy.replicas (up --scale)',
      }),
    ),
    removeOrphans: Type.Optional(
      Type.Boolean({ description: 'remove replicas of services no longer declared' }),
    ),
  },
  { additionalProperties: false, description: 'berth up' },
);
export type ProjectUp = Static<typeof ProjectUp>;

export const RolloutProgress = Type.Object({
  service: Type.String(),
  kind: Type.Union([Type.Literal('update'), Type.Literal('rollback')]),
  phase: Type.Union(['running', 'paused', 'done', 'failed', 'rolled-back'].map((p) => Type.Literal(p))),
  oldCount: Type.Integer(),
  newCount: Type.Integer(),
  waiting: Type.Optional(
    Type.Object({
      name: Type.String(),
      for: Type.Union(['start', 'ready', 'monitor', 'retire'].map((p) => Type.Literal(p))),
    }),
  ),
  failures: Type.Integer(),
  reason: Type.Optional(Type.String()),
});

const ErrorNote = Type.Object({ message: Type.String(), at: Type.String({ description: 'RFC 3339' }) });

export const ReplicaStatus = Type.Object({
  id: Type.String(),
  name: Type.String(),
  index: Type.Integer({ description: 'com.docker.compose.container-number' }),
  state: Type.String({ description: 'created, running, restarting, exited, …' }),
  health: Type.String({ description: 'none, starting, healthy, unhealthy' }),
  configHash: Type.String(),
  exitCode: Type.Optional(Type.Integer()),
});

export const ServiceStatus = Type.Object({
  name: Type.String(),
  image: Type.String(),
  configHash: Type.String({ description: 'of the desired revision' }),
  desired: Type.Integer(),
  running: Type.Integer(),
  healthy: Type.Integer(),
  frontend: Type.Optional(
    Type.Object(
      { port: Type.Integer(), bind: Type.Optional(Type.String()) },
      { description: 'the HAProxy frontend' },
    ),
  ),
  rollout: Type.Optional(RolloutProgress),
  lastError: Type.Optional(ErrorNote),
  replicas: Type.Array(ReplicaStatus),
});

export const ProjectStatus = Type.Object({
  name: Type.String(),
  origin: Type.Union([Type.Literal('api'), Type.Literal('dir')], {
    description: 'berth up, or the projects directory',
  }),
  workingDir: Type.String(),
  files: Type.Array(Type.String()),
  appliedAt: Type.String(),
  lastError: Type.Optional(Type.Object({ ...ErrorNote.properties, service: Type.Optional(Type.String()) })),
  services: Type.Array(ServiceStatus),
});

export const ScaleBody = Type.Object(
  {
    replicas: Type.Integer({
      minimum: 0,
      maximum: 1000,
      [REASON]: 'must be a whole number from 0 to 1000, got {value}',
    }),
  },
  { additionalProperties: false },
);
export const DownQuery = Type.Object({ volumes: Type.Optional(Flag), removeOrphans: Type.Optional(Flag) });
export const ProjectLogQuery = Type.Object({
  ...LogQuery.properties,
  service: Type.Optional(Repeated('only these services')),
});
export const ProjectLogLine = Type.Object({
  ...LogLine.properties,
  container: Type.String({ description: 'the replica the line came from' }),
  service: Type.String(),
});

type NameRoute = { Params: { name: string } };
type ServiceRoute = { Params: { name: string; service: string } };

export function registerProjectRoutes(app: FastifyInstance, deps: ApiDeps & { projects?: Projects }): void {
  const projects = (): Projects => {
    if (deps.projects === undefined) throw new NotImplementedError('this agent runs no reconciler');
    return deps.projects;
  };
  app.get(
    '/v1/projects',
    { schema: { querystring: NoQuery, response: responses({ 200: Type.Array(ProjectStatus) }) } },
    async () => projects().list(),
  );
  app.put<NameRoute & { Body: ProjectUp }>(
    '/v1/projects/:name',
    {
      schema: {
        params: ProjectParams,
        querystring: NoQuery,
        body: ProjectUp,
        response: responses({ 200: ProjectStatus }),
      },
    },
    async (req) => {
      const { scale, removeOrphans, ...source } = req.body;
      return projects().up(source, {
        name: req.params.name,
        ...(scale !== undefined ? { scale } : {}),
        ...(removeOrphans !== undefined ? { removeOrphans } : {}),
      });
    },
  );
  app.get<NameRoute>(
    '/v1/projects/:name',
    { schema: { params: ProjectParams, querystring: NoQuery, response: responses({ 200: ProjectStatus }) } },
    async (req) => projects().status(req.params.name),
  );
  app.delete<NameRoute & { Querystring: Record<string, string | undefined> }>(
    '/v1/projects/:name',
    {
      schema: {
        params: ProjectParams,
        querystring: DownQuery,
        response: responses({ 200: Type.Object({ removed: Type.Array(Type.String()) }) }),
      },
    },
    async (req) =>
      projects().down(req.params.name, {
        volumes: flag(req.query, 'volumes'),
        removeOrphans: flag(req.query, 'removeOrphans'),
      }),
  );
  app.post<ServiceRoute & { Body: { replicas: number } }>(
    '/v1/projects/:name/services/:service/scale',
    {
      schema: {
        params: ServiceParams,
        querystring: NoQuery,
        body: ScaleBody,
        response: responses({ 200: ProjectStatus }),
      },
    },
    async (req) => projects().scale(req.params.name, req.params.service, req.body.replicas),
  );
  app.post<ServiceRoute>(
    '/v1/projects/:name/services/:service/rollback',
    bodiless({ params: ServiceParams, querystring: NoQuery, response: responses({ 200: ProjectStatus }) }),
    async (req) => projects().rollback(req.params.name, req.params.service),
  );
  app.get<NameRoute & { Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/projects/:name/logs',
    {
      schema: {
        params: ProjectParams,
        querystring: ProjectLogQuery,
        response: ndjsonResponse(
          Type.Union([ProjectLogLine, StreamError]),
          'every replica’s lines interleaved, each with its container name; following, also the replicas started after the stream opened',
        ),
      },
    },
    async (req, reply) => {
      const { service, ...rest } = req.query;
      const services = service === undefined ? [] : Array.isArray(service) ? service : [service];
      const query = logQuery(rest as Record<string, string | undefined>);
      const ac = new AbortController();
      // Resolve before hijacking so that a missing project is a 404, not a broken stream.
      const lines = await projects().logs(req.params.name, services, { ...query, signal: ac.signal });
      const out = ndjson(reply);
      out.closed.addEventListener('abort', () => ac.abort());
      try {
        for await (const l of lines) if (!out.write(l)) await drained(reply.raw);
      } catch (err) {
        out.write({ error: { message: messageOf(err) } });
      }
      out.end();
    },
  );
}
