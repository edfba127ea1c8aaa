import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  isNotFound,
  messageOf,
} from '../../../runtime/base/errors.js';
import type { Logger } from '../../../runtime/base/log.js';
import { CreateRequest } from '../../../runtime/oci/request.js';
import type { LogLine as Line, LogQuery, Runtime } from '../../../runtime/runtime.js';
import type { ContainerDescriptor, ContainerSource } from '../../../runtime/types.js';
import { drained, guardNdjson } from '../backpressure.js';
import { ndjson } from '../ndjson.js';
import {
  bodiless,
  ContainerDescriptor as ContainerDescriptorSchema,
  ContainerSourceName,
  Flag,
  type IdParams as Id,
  IdParams as IdSchema,
  LogLine,
  LogQuery as LogQuerySchema,
  NoContent,
  NoQuery,
  ndjsonResponse,
  Removed,
  RunRecord,
  responses,
  StopQuery,
  StreamError,
  WaitResult,
} from '../schemas.js';
import type { ApiDeps } from '../types.js';

type IdParams = { Params: Id };
type Query = Record<string, string | undefined>;

export function flag(q: Query, key: string): boolean {
  const v = q[key];
  return v === '1' || v === 'true' || v === '';
}

export function intParam(q: Query, key: string): number | undefined {
  const v = q[key];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v))
    throw new InvalidArgumentError(`${key}: must be a non-negative integer, got ${JSON.stringify(v)}`, {
      field: key,
    });
  return Number(v);
}

export function logQuery(q: Query): LogQuery {
  const both = q.stdout === undefined && q.stderr === undefined;
  const tail = q.tail === 'all' ? undefined : intParam(q, 'tail');
  return {
    follow: flag(q, 'follow'),
    ...(tail !== undefined ? { tail } : {}),
    ...(q.since ? { since: q.since } : {}),
    ...(q.until ? { until: q.until } : {}),
    stdout: both || flag(q, 'stdout'),
    stderr: both || flag(q, 'stderr'),
  };
}

/**
 * /v1/containers: the Docker-like verbs. `POST /v1/containers/run` does
 * create + start + (attach) + wait + (remove) in one request so that
 * `berth run --rm` costs one round trip; it streams NDJSON records
 * `{created}`, `{stream, line, time}` and finally `{exit}`.
 */
const createSchema = {
  querystring: NoQuery,
  body: CreateRequest,
  response: responses({ 201: ContainerDescriptorSchema }),
};

const runSchema = {
  querystring: Type.Object({ detach: Type.Optional(Flag), rm: Type.Optional(Flag) }),
  body: CreateRequest,
  response: ndjsonResponse(RunRecord, 'create, start, attach, wait (and remove) in one request'),
};

/** What an operator uses instead of berth on a container of `source`. */
const OWNER_TOOL: Record<ContainerDescriptor['source'], string> = {
  berth: 'berth',
  docker: 'docker',
  cri: 'kubectl or crictl',
  cgroup: 'the engine that started it',
};

/**
 * The containers `GET /v1/containers` lists: berth's own, then the observed
 * ones (observe and both modes) berth's runtime does not know, narrowed to
 * one `source` when asked.
 */
export async function listContainers(
  runtime: ContainerSource,
  observed: ContainerSource | undefined,
  opts: { all: boolean; source?: string | undefined },
): Promise<ContainerDescriptor[]> {
  const { all, source } = opts;
  const wanted = (c: ContainerDescriptor) => source === undefined || c.source === source;
  if (!observed) return (await runtime.list({ all })).filter(wanted);
  // berth's own are listed in full even for another source: one the observer sees too is berth's.
  const [own, seen] = await Promise.all([runtime.list({ all }), observed.list({ all })]);
  const ids = new Set(own.map((c) => c.id));
  return [...own, ...seen.filter((c) => !ids.has(c.id))].filter(wanted);
}

/**
 * `op` on berth's runtime; a container the runtime does not know but the
 * observe source does is refused as read-only (FailedPrecondition naming it),
 * not reported missing: `berth ps` lists it.
 */
export async function owned<T>(
  observed: ContainerSource | undefined,
  id: string,
  verb: string,
  op: () => Promise<T>,
): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!observed || !isNotFound(err)) throw err;
    const d = await observed.get(id).catch(() => undefined);
    if (!d) throw err;
    throw new FailedPreconditionError(
      `cannot ${verb} ${d.name} (${d.id.slice(0, 12)}): observed, not run by berth (source ${d.source}): use ${OWNER_TOOL[d.source]}`,
    );
  }
}

/**
 * The output of container `id`, resolved before any line is read (so that a
 * missing container is NotFound and an unreadable one FailedPrecondition
 * before a stream starts), read when the returned function is called:
 * berth's own from its runtime, exactly as before; one the runtime does not
 * know but the observe source does from that source's files
 * (runtime/source/observe, "Logs").
 */
export async function containerLogs(
  runtime: Runtime,
  observed: ApiDeps['observed'],
  id: string,
  query: LogQuery,
): Promise<() => AsyncIterable<Line>> {
  try {
    await runtime.get(id);
  } catch (err) {
    if (!observed?.logs || !isNotFound(err)) throw err;
    const d = await observed.get(id).catch(() => Promise.reject(err));
    const lines = await observed.logs(d.id, query);
    return () => lines;
  }
  return () => runtime.logs(id, query);
}

export function registerContainerRoutes(
  app: FastifyInstance,
  { runtime, observed }: ApiDeps,
  logger: Logger,
): void {
  app.get<{ Querystring: Query }>(
    '/v1/containers',
    {
      schema: {
        querystring: Type.Object({
          all: Type.Optional(Flag),
          source: Type.Optional(ContainerSourceName),
        }),
        response: responses({ 200: Type.Array(ContainerDescriptorSchema) }),
      },
    },
    async (req) =>
      listContainers(runtime, observed, { all: flag(req.query, 'all'), source: req.query.source }),
  );

  app.post('/v1/containers', { schema: createSchema }, async (req, reply) => {
    const d = await runtime.create(req.body);
    reply.code(201);
    return d;
  });

  app.get<IdParams>(
    '/v1/containers/:id',
    {
      schema: {
        params: IdSchema,
        querystring: NoQuery,
        response: responses({
          200: Type.Object(ContainerDescriptorSchema.properties, {
            description: 'the descriptor plus the validated config, health log and runtime details',
          }),
        }),
      },
    },
    // An observed container's descriptor is all berth knows of it (no config, no health log).
    async (req) =>
      runtime.inspect(req.params.id).catch(async (err: unknown) => {
        if (!observed || !isNotFound(err)) throw err;
        return observed.get(req.params.id).catch(() => Promise.reject(err));
      }),
  );
  app.post<IdParams>(
    '/v1/containers/:id/start',
    bodiless({
      params: IdSchema,
      querystring: NoQuery,
      response: responses({ 200: ContainerDescriptorSchema }),
    }),
    async (req) => owned(observed, req.params.id, 'start', () => runtime.start(req.params.id)),
  );
  const stopSchema = { params: IdSchema, querystring: StopQuery, response: responses({ 200: WaitResult }) };
  app.post<IdParams & { Querystring: Query }>(
    '/v1/containers/:id/stop',
    bodiless(stopSchema),
    async (req) => {
      const t = intParam(req.query, 't');
      const opts = t === undefined ? {} : { timeoutMs: t * 1000 };
      return owned(observed, req.params.id, 'stop', () => runtime.stop(req.params.id, opts));
    },
  );
  app.post(
    '/v1/containers/prune',
    bodiless({ querystring: NoQuery, response: responses({ 200: Removed }) }),
    async () => ({ removed: await runtime.pruneContainers() }),
  );
  app.post<IdParams & { Querystring: Query }>(
    '/v1/containers/:id/restart',
    bodiless({
      params: IdSchema,
      querystring: StopQuery,
      response: responses({ 200: ContainerDescriptorSchema }),
    }),
    async (req) => {
      const t = intParam(req.query, 't');
      const opts = t === undefined ? {} : { timeoutMs: t * 1000 };
      return owned(observed, req.params.id, 'restart', () => runtime.restart(req.params.id, opts));
    },
  );
  app.post<IdParams & { Querystring: Query }>(
    '/v1/containers/:id/kill',
    bodiless({
      params: IdSchema,
      querystring: Type.Object({
        signal: Type.Optional(Type.String({ description: 'name or number; SIGKILL when absent' })),
      }),
      response: responses({ 204: NoContent }),
    }),
    async (req, reply) => {
      const signal = req.query.signal ?? 'SIGKILL';
      await owned(observed, req.params.id, 'kill', () => runtime.kill(req.params.id, signal));
      reply.code(204);
    },
  );
  app.delete<IdParams & { Querystring: Query }>(
    '/v1/containers/:id',
    {
      schema: {
        params: IdSchema,
        querystring: Type.Object({ force: Type.Optional(Flag) }),
        response: responses({ 204: NoContent }),
      },
    },
    async (req, reply) => {
      const force = flag(req.query, 'force');
      await owned(observed, req.params.id, 'remove', () => runtime.remove(req.params.id, { force }));
      reply.code(204);
    },
  );
  app.post<IdParams>(
    '/v1/containers/:id/wait',
    bodiless({ params: IdSchema, querystring: NoQuery, response: responses({ 200: WaitResult }) }),
    async (req) => {
      const ac = new AbortController();
      req.raw.on('close', () => ac.abort());
      return runtime.wait(req.params.id, ac.signal);
    },
  );
  app.get<IdParams & { Querystring: Query }>(
    '/v1/containers/:id/logs',
    {
      schema: {
        params: IdSchema,
        querystring: LogQuerySchema,
        response: ndjsonResponse(
          Type.Union([LogLine, StreamError]),
          'the output lines, as they come with follow',
        ),
      },
    },
    async (req, reply) => {
      const query = logQuery(req.query);
      // Resolve before hijacking so that a missing container is a 404 (an unreadable observed one a
      // 412), not a broken stream.
      const closed = new AbortController();
      const read = await containerLogs(runtime, observed, req.params.id, { ...query, signal: closed.signal });
      const out = ndjson(reply);
      if (out.closed.aborted) closed.abort();
      else out.closed.addEventListener('abort', () => closed.abort(), { once: true });
      try {
        for await (const l of read()) {
          // Read from the log file only as fast as the client takes it; a closed client ends the loop.
          if (!out.write(l)) await drained(reply.raw);
        }
      } catch (err) {
        out.write({ error: { message: messageOf(err) } });
      }
      out.end();
    },
  );

  app.post<{ Querystring: Query }>('/v1/containers/run', { schema: runSchema }, async (req, reply) => {
    const attach = !flag(req.query, 'detach');
    const autoRemove = flag(req.query, 'rm');
    const created = await runtime.create(req.body);
    const out = ndjson(reply);
    out.write({ created: { id: created.id, name: created.name } });
    try {
      const started = await runtime.start(created.id);
      if (!attach) {
        out.write({ started: { id: started.id } });
        return out.end();
      }
      const ac = new AbortController();
      out.closed.addEventListener('abort', () => ac.abort());
      // The output is read from the container's log file only as fast as the client takes it; a
      // client that stops reading is cut off (src/api/README.md) and the run ends as on a disconnect.
      const guard = guardNdjson(reply.raw, '/v1/containers/run', logger, () => ac.abort());
      const streamed = (async () => {
        for await (const l of runtime.logs(created.id, {
          follow: true,
          stdout: true,
          stderr: true,
          signal: ac.signal,
        })) {
          const more = out.write(l);
          if (guard.check()) break;
          if (!more) await drained(reply.raw);
        }
      })().finally(() => guard.dispose());
      const exit = await runtime.wait(created.id, out.closed);
      await streamed;
      // The runtime removes --rm containers itself; waiting here makes `run --rm` return after removal.
      if (autoRemove) await runtime.remove(created.id, { force: true }).catch(ignoreNotFound);
      out.write({ exit });
    } catch (err) {
      out.write({ error: { message: messageOf(err) } });
      if (autoRemove) {
        await runtime.remove(created.id, { force: true }).catch((rmErr: unknown) => {
          // Gone already is the usual case: the runtime removes --rm containers itself.
          if (!isNotFound(rmErr))
            logger.warn(
              { err: rmErr, id: created.id },
              'run --rm: cannot remove the container of a failed run',
            );
        });
      }
    }
    out.end();
  });
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}
