import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { FailedPreconditionError, NotImplementedError } from '../../../runtime/base/errors.js';
import { REASON } from '../../../runtime/base/schema.js';
import type { NetworkInfo, NetworkVerbs } from '../../../runtime/network/types.js';
import { NETWORK_ALIAS_PATTERN, NETWORK_NAME_PATTERN } from '../../../runtime/oci/request.js';
import type { Runtime } from '../../../runtime/runtime.js';
import { bodiless, NoContent, NoQuery, Removed, responses } from '../schemas.js';
import type { ApiDeps } from '../types.js';

const NAME_REASON = 'must be a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters), got {value}';

export const NetworkParams = Type.Object({
  name: Type.String({ pattern: NETWORK_NAME_PATTERN, description: 'network name', [REASON]: NAME_REASON }),
});

export const NetworkCreate = Type.Object(
  {
    name: Type.String({ pattern: NETWORK_NAME_PATTERN, [REASON]: NAME_REASON }),
    subnet: Type.Optional(Type.String({ description: 'IPv4 CIDR; default: the next free /24 of the pool' })),
    gateway: Type.Optional(Type.String({ description: 'a host address of the subnet; default its first' })),
    internal: Type.Optional(Type.Boolean({ description: 'no traffic in or out of the network' })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'free-form labels' })),
  },
  { additionalProperties: false, [REASON]: 'unknown key (known: name, subnet, gateway, internal, labels)' },
);

export const NetworkConnect = Type.Object(
  {
    container: Type.String({
      minLength: 1,
      description: 'container id or name',
      [REASON]: 'a container is required',
    }),
    aliases: Type.Optional(
      Type.Array(
        Type.String({
          pattern: NETWORK_ALIAS_PATTERN,
          [REASON]: 'must be a DNS name (letters, digits, _ and - in dot-separated labels), got {value}',
        }),
        { maxItems: 64 },
      ),
    ),
  },
  { additionalProperties: false, [REASON]: 'unknown key (known: container, aliases)' },
);

export const NetworkDisconnect = Type.Object(
  {
    container: Type.String({
      minLength: 1,
      description: 'container id or name',
      [REASON]: 'a container is required',
    }),
  },
  { additionalProperties: false, [REASON]: 'unknown key (known: container)' },
);

export const NetworkSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  driver: Type.String(),
  bridge: Type.String(),
  subnet: Type.String(),
  gateway: Type.String(),
  internal: Type.Boolean(),
  labels: Type.Record(Type.String(), Type.String()),
  createdAt: Type.String(),
  builtin: Type.Optional(Type.Boolean({ description: 'the default network (bridge)' })),
  containers: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.Optional(Type.String()),
      address: Type.Optional(Type.String()),
      aliases: Type.Array(Type.String()),
    }),
    { description: 'running containers on the network' },
  ),
});

type NameRoute = { Params: { name: string } };

/**
 * /v1/networks: user-defined bridge networks (runtime/network). `POST
 * /v1/networks` creates, `GET` lists (the default network `bridge` first) or
 * shows one with its running containers (by name), `DELETE /:name` removes
 * one no running container is on (412 naming them otherwise), `POST
 * /prune` removes the unused ones, `POST /:name/connect|disconnect` joins or
 * takes off a container (at once when it runs).
 */
export function registerNetworkRoutes(app: FastifyInstance, { runtime, networks }: ApiDeps): void {
  const net = (): NetworkVerbs => {
    if (!networks) throw new NotImplementedError('networks are not available in this agent');
    return networks;
  };
  app.get(
    '/v1/networks',
    { schema: { querystring: NoQuery, response: responses({ 200: Type.Array(NetworkSummary) }) } },
    async () => named(runtime, await net().listNetworks()),
  );
  app.post(
    '/v1/networks',
    { schema: { querystring: NoQuery, body: NetworkCreate, response: responses({ 201: NetworkSummary }) } },
    async (req, reply) => {
      const created = await net().createNetwork(req.body as Static<typeof NetworkCreate>);
      reply.code(201);
      return created;
    },
  );
  app.post(
    '/v1/networks/prune',
    bodiless({ querystring: NoQuery, response: responses({ 200: Removed }) }),
    async () => ({ removed: await net().pruneNetworks() }),
  );
  app.get<NameRoute>(
    '/v1/networks/:name',
    { schema: { params: NetworkParams, querystring: NoQuery, response: responses({ 200: NetworkSummary }) } },
    async (req) => (await named(runtime, [await net().inspectNetwork(req.params.name)]))[0],
  );
  app.delete<NameRoute>(
    '/v1/networks/:name',
    { schema: { params: NetworkParams, querystring: NoQuery, response: responses({ 204: NoContent }) } },
    async (req, reply) => {
      // Refused naming the containers (the runtime's own check, under its lock, names ids).
      const [info] = await named(runtime, [await net().inspectNetwork(req.params.name)]);
      if (info && info.containers.length > 0 && !info.builtin)
        throw new FailedPreconditionError(
          `network ${info.name} has containers attached: ${info.containers.map((c) => c.name ?? c.id.slice(0, 12)).join(', ')}; stop or disconnect them first`,
        );
      await net().removeNetwork(req.params.name);
      reply.code(204);
    },
  );
  app.post<NameRoute>(
    '/v1/networks/:name/connect',
    {
      schema: {
        params: NetworkParams,
        querystring: NoQuery,
        body: NetworkConnect,
        response: responses({
          200: Type.Object({ id: Type.String(), addresses: Type.Record(Type.String(), Type.String()) }),
        }),
      },
    },
    async (req) => {
      const body = req.body as Static<typeof NetworkConnect>;
      const d = await net().connect(body.container, req.params.name, body.aliases ?? []);
      return { id: d.id, addresses: d.addresses };
    },
  );
  app.post<NameRoute>(
    '/v1/networks/:name/disconnect',
    {
      schema: {
        params: NetworkParams,
        querystring: NoQuery,
        body: NetworkDisconnect,
        response: responses({
          200: Type.Object({ id: Type.String(), addresses: Type.Record(Type.String(), Type.String()) }),
        }),
      },
    },
    async (req) => {
      const body = req.body as Static<typeof NetworkDisconnect>;
      const d = await net().disconnect(body.container, req.params.name);
      return { id: d.id, addresses: d.addresses };
    },
  );
}

/** The networks with their containers' names (the network area knows ids only). */
type NamedInfo = Omit<NetworkInfo, 'containers'> & {
  containers: Array<{ id: string; name?: string; address?: string; aliases: string[] }>;
};

async function named(runtime: Runtime, list: NetworkInfo[]): Promise<NamedInfo[]> {
  const names = new Map((await runtime.list({ all: true })).map((d) => [d.id, d.name]));
  return list.map((n) => ({
    ...n,
    containers: n.containers.map((c) => {
      const name = names.get(c.id);
      return { ...c, ...(name ? { name } : {}) };
    }),
  }));
}
