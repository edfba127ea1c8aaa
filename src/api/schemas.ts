import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifySchema } from 'fastify';
import { ERROR_CODES, errorCode, InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import { REASON, StringEnum } from '../../runtime/base/schema.js';

/**
 * The /v1 API's shapes as JSON Schema (TypeBox), one place: every route
 * declares its params, querystring, body and responses from these, so the
 * request checks and (later) an OpenAPI document come from the same
 * declarations. Responses keep additional properties allowed: a client
 * must ignore fields it does not know, and the runtime may add some.
 */

// ---- errors -------------------------------------------------------------------

/** Codes the API answers with: the closed set (the TCP listener's token refusal is Unauthenticated). */
const WIRE_CODES = [...ERROR_CODES];

/** `{error: {code, message, field?}}`: every error response, with the status of its code. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: StringEnum(WIRE_CODES),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field at fault (`ports[0]`)' })),
    }),
  },
  { description: 'an error, with the HTTP status of its code' },
);

/** The error body for any thrown value (`Internal` when it carries no berth code). */
export function errorBody(err: unknown, code: string = errorCode(err) ?? 'Internal') {
  const field = err instanceof InvalidArgumentError ? err.field : undefined;
  return { error: { code, message: messageOf(err), ...(field ? { field } : {}) } };
}

/** The error responses every route declares. */
export const errors = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** Responses: the success ones given, plus the error body for 4xx and 5xx. */
export function responses(ok: Record<number, TSchema>): Record<string, TSchema> {
  return { ...ok, ...errors };
}

/** An NDJSON stream (`application/x-ndjson`): one JSON value of `record`'s shape per line. */
export function ndjsonResponse(record: TSchema, description: string): Record<string, unknown> {
  return {
    200: { description, content: { 'application/x-ndjson': { schema: record } } },
    ...errors,
  };
}

/** A stream line that ends it with an error (the stream's status was sent already). */
export const StreamError = Type.Object({
  error: Type.Object({ code: Type.Optional(Type.String()), message: Type.String() }),
});

/**
 * A route's schema with the documentation keys Fastify passes over, for the
 * OpenAPI document (openapi.ts): `messages` is a WebSocket's message schema
 * (`x-websocket-messages` there; OpenAPI has no words for WebSocket frames).
 */
export function documented(
  schema: FastifySchema & { description?: string; summary?: string; consumes?: string[]; messages?: TSchema },
): FastifySchema {
  return schema;
}

/**
 * The route options of a POST (or PUT) that reads no body: its request is all
 * in its params and querystring. `config.body: false` says so to the schema
 * test, which wants every other POST to declare its body.
 */
export function bodiless<S extends Record<string, unknown>>(schema: S) {
  return { schema, config: { body: false } };
}

export const NoContent = Type.Null({ description: 'no body' });

// ---- request parts -------------------------------------------------------------

export const IdParams = Type.Object({ id: Type.String({ description: 'container name, id or id prefix' }) });
export type IdParams = { id: string };
export const NameParams = Type.Object({ name: Type.String({ description: 'volume name' }) });
export const RegistryParams = Type.Object({ registry: Type.String() });

/** A query flag: `?all`, `?all=1` and `?all=true` are on, anything else off. */
export const Flag = Type.String({ description: 'on when empty, 1 or true' });

/** Where a container comes from (ContainerDescriptor.source): berth's runtime or an observed engine. */
export const ContainerSourceName = Type.Unsafe<'berth' | 'docker' | 'cri' | 'cgroup'>({
  ...StringEnum(
    ['berth', 'docker', 'cri', 'cgroup'] as const,
    'must be berth, docker, cri or cgroup, not {value}',
  ),
  description:
    "only containers from this source: berth (its own), docker, cri (a kubelet's containerd or CRI-O) or cgroup (found by cgroup alone); observed ones exist in --mode observe and both",
});

/** No query parameters (unknown ones are ignored, as ever). */
export const NoQuery = Type.Object({});

const seconds = (description: string) =>
  Type.String({
    pattern: '^(\\d+)?$',
    description,
    [REASON]: 'must be a non-negative integer, got {value}',
  });
export const StopQuery = Type.Object({ t: Type.Optional(seconds('grace period in seconds')) });

export const LogQuery = Type.Object({
  follow: Type.Optional(Flag),
  tail: Type.Optional(
    Type.String({
      pattern: '^(\\d+|all)?$',
      description: 'last N lines, or all',
      [REASON]: 'must be a non-negative integer, got {value}',
    }),
  ),
  since: Type.Optional(Type.String({ description: 'RFC 3339 time or unix seconds' })),
  until: Type.Optional(Type.String({ description: 'RFC 3339 time or unix seconds' })),
  stdout: Type.Optional(Flag),
  stderr: Type.Optional(Flag),
});

/** A repeatable query parameter (`?topic=a&topic=b`). */
export const Repeated = (description: string) =>
  Type.Union([Type.String(), Type.Array(Type.String())], { description });

// ---- bodies --------------------------------------------------------------------

export const ExecRequest = Type.Object(
  {
    cmd: Type.Array(Type.String(), {
      minItems: 1,
      description: 'argv',
      [REASON]: 'must be a non-empty list of strings',
    }),
    env: Type.Optional(Type.Array(Type.String(), { description: 'KEY=VALUE over the container env' })),
    user: Type.Optional(Type.String()),
    workdir: Type.Optional(Type.String()),
    stdin: Type.Optional(Type.Boolean({ description: 'WebSocket only: attach standard input' })),
  },
  { description: 'a command to run in a running container' },
);

/** `name` is required; the route says so itself, naming the field `volume` (see volumes.ts). */
export const VolumeCreate = Type.Object({ name: Type.Optional(Type.String({ description: 'volume name' })) });

export const Login = Type.Object({
  registry: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  caFile: Type.Optional(Type.String({ description: 'CA bundle that signed the registry certificate' })),
});

/** Pull options, checked by the image store (platform, per-pull credentials). */
export const PullOptions = Type.Object({}, { description: 'pull options (platform, credentials)' });

// ---- responses -----------------------------------------------------------------

export const PortMapping = Type.Object({
  containerPort: Type.Integer(),
  protocol: StringEnum(['tcp', 'udp'] as const),
  hostIp: Type.String({ description: "'' when not published" }),
  hostPort: Type.Integer({ description: '0 when not published' }),
});

export const ContainerDescriptor = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    image: Type.String(),
    imageName: Type.String(),
    imageTag: Type.String(),
    imageId: Type.Optional(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
    env: Type.Record(Type.String(), Type.String()),
    state: Type.String({ description: 'created, running, paused, restarting, exited, dead or removing' }),
    ports: Type.Array(PortMapping),
    addresses: Type.Record(Type.String(), Type.String()),
    networkMode: Type.String(),
    pid: Type.Optional(Type.Integer()),
    cgroupPath: Type.Optional(Type.String()),
    netnsPath: Type.Optional(Type.String()),
    logPath: Type.Optional(Type.String()),
    health: Type.String({ description: 'none, starting, healthy or unhealthy' }),
    createdAt: Type.String(),
    startedAt: Type.Optional(Type.String()),
    finishedAt: Type.Optional(Type.String()),
    exitCode: Type.Optional(Type.Integer()),
    oomKilled: Type.Optional(Type.Boolean()),
    restartCount: Type.Integer(),
    source: Type.String({
      description: 'berth, or the engine an observed container comes from: docker, cri, cgroup',
    }),
  },
  { description: 'a container' },
);

export const WaitResult = Type.Object({
  exitCode: Type.Integer(),
  oomKilled: Type.Boolean(),
  signal: Type.Optional(Type.String()),
});

export const ExecResult = Type.Object({
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
});

export const LogLine = Type.Object({
  time: Type.String(),
  stream: StringEnum(['stdout', 'stderr'] as const),
  line: Type.String(),
  partial: Type.Optional(Type.Boolean()),
});

export const RunRecord = Type.Union(
  [
    Type.Object({ created: Type.Object({ id: Type.String(), name: Type.String() }) }),
    Type.Object({ started: Type.Object({ id: Type.String() }) }),
    LogLine,
    Type.Object({ exit: WaitResult }),
    StreamError,
  ],
  { description: '{created}, then {started} (detached) or output lines and {exit}' },
);

export const VolumeSummary = Type.Object({
  name: Type.String(),
  mountpoint: Type.String(),
  createdAt: Type.String(),
  anonymous: Type.Boolean(),
  usedBy: Type.Array(Type.String()),
});

export const ImageSummary = Type.Object({
  id: Type.String(),
  refs: Type.Array(Type.String()),
  size: Type.Integer(),
  created: Type.Optional(Type.String()),
});

export const PullRecord = Type.Union([
  Type.Object({
    progress: Type.Object({
      layer: Type.String(),
      current: Type.Number(),
      total: Type.Number(),
      status: Type.String(),
    }),
  }),
  Type.Object({ image: ImageSummary }),
  StreamError,
]);

export const Removed = Type.Object({ removed: Type.Array(Type.String()) });

export const Version = Type.Object({ berth: Type.String(), node: Type.String(), api: Type.String() });

export const Info = Type.Object(
  {
    endpoints: Type.Record(Type.String(), Type.String()),
    mode: Type.Optional(
      Type.Unsafe<'run' | 'observe' | 'both'>({
        ...StringEnum(['run', 'observe', 'both'] as const),
        description: "--mode: berth's own containers (run), the host's (observe), or both",
      }),
    ),
  },
  { description: 'the agent: endpoints, runtime and host facts' },
);

export const Stats = Type.Object({
  containers: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      at: Type.Number(),
      cpuSeconds: Type.Optional(Type.Number()),
      memory: Type.Object({
        usage: Type.Optional(Type.Number()),
        workingSet: Type.Optional(Type.Number()),
        limit: Type.Number(),
      }),
      pids: Type.Object({ current: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) }),
      net: Type.Optional(Type.Object({ rxBytes: Type.Number(), txBytes: Type.Number() })),
      block: Type.Object({ readBytes: Type.Number(), writeBytes: Type.Number() }),
    }),
  ),
  missing: Type.Array(Type.String({ description: 'names asked for that are unknown or not running' })),
});

/** An event envelope, as `/v1/events` streams them and `/v1/ws/events` sends them. */
export const EventEnvelope = Type.Object({
  time: Type.String(),
  topic: Type.String(),
  event: Type.Object({}),
});

/** A WebSocket route answers the upgrade; its messages are described on the route. */
export const SwitchingProtocols = Type.Null({ description: 'WebSocket upgrade' });

// ---- WebSocket streams (src/api/README.md, "Streams and the dashboard") ---------

export const RFC3339_OR_UNIX =
  '^(\\d+(\\.\\d+)?|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|z|[+-]\\d\\d:\\d\\d))$';

export const LogsStreamQuery = Type.Object({
  container: Type.Optional(Repeated('containers by name, id or id prefix')),
  project: Type.Optional(
    Type.String({ description: 'replicas of this Compose project (com.docker.compose.project)' }),
  ),
  service: Type.Optional(
    Type.String({ description: 'replicas of this Compose service (com.docker.compose.service)' }),
  ),
  tail: LogQuery.properties.tail,
  follow: Type.Optional(Flag),
  since: Type.Optional(
    Type.String({
      pattern: RFC3339_OR_UNIX,
      description: 'RFC 3339 time or unix seconds',
      [REASON]: 'must be an RFC 3339 time (2026-12-07T10:00:00Z) or unix seconds, got {value}',
    }),
  ),
});

/** One `/v1/ws/logs` message: a batch of lines, oldest first. */
export const LogBatch = Type.Array(
  Type.Object({
    container: Type.String(),
    time: Type.String(),
    stream: StringEnum(['stdout', 'stderr'] as const),
    line: Type.String(),
    partial: Type.Optional(Type.Boolean()),
  }),
  { description: 'a batch of lines, oldest first' },
);

export const StatsStreamQuery = Type.Object({
  name: Type.Optional(Repeated('containers to measure; every running one when absent')),
  interval: Type.Optional(Type.String({ description: 'a duration from 250ms to 60s; 1s when absent' })),
});

const perSecond = Type.Number({ minimum: 0 });

/** One `/v1/ws/stats` message. */
export const StatsMessage = Type.Object({
  time: Type.String(),
  interval: Type.Number({ description: 'seconds between the two readings' }),
  containers: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      cpu: Type.Number({ minimum: 0, description: 'cores used over the interval' }),
      memory: Stats.properties.containers.items.properties.memory,
      net: Type.Optional(Type.Object({ rxBytesPerSec: perSecond, txBytesPerSec: perSecond })),
      block: Type.Object({ readBytesPerSec: perSecond, writeBytesPerSec: perSecond }),
      pids: Stats.properties.containers.items.properties.pids,
    }),
  ),
  missing: Type.Array(Type.String()),
});

/** The last message of a WebSocket stream that failed after the upgrade (then close 1011). */
export const StreamFailure = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
