import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '../../../runtime/base/errors.js';
import { EVENT_HISTORY } from '../../../runtime/base/events.js';
import type { Logger } from '../../../runtime/base/log.js';
import { REASON } from '../../../runtime/base/schema.js';
import { parseTimeBound } from '../../../runtime/exec/k8s-format.js';
import { VERSION } from '../../version.js';
import { guardNdjson, guardWebSocket } from '../backpressure.js';
import { ndjson } from '../ndjson.js';
import {
  documented,
  EventEnvelope,
  Info,
  NoQuery,
  ndjsonResponse,
  Repeated,
  RFC3339_OR_UNIX,
  responses,
  Stats,
  StreamError,
  SwitchingProtocols,
  Version,
} from '../schemas.js';
import type { ApiDeps } from '../types.js';

export interface SystemInfo {
  /** Where each endpoint listens, for `berth info` and the start-up banner. */
  endpoints: Record<string, string>;
  [key: string]: unknown;
}

/** /v1/version, /v1/info, /v1/stats, /v1/events (NDJSON) and /v1/ws/events (WebSocket). */
export function registerSystemRoutes(
  app: FastifyInstance,
  { events, stats }: ApiDeps,
  info: () => SystemInfo,
  logger: Logger,
): void {
  app.get(
    '/v1/version',
    { schema: { querystring: NoQuery, response: responses({ 200: Version }) } },
    async () => ({
      berth: VERSION,
      node: process.version,
      api: 'v1',
    }),
  );
  app.get('/v1/info', { schema: { querystring: NoQuery, response: responses({ 200: Info }) } }, async () =>
    info(),
  );
  const topicQuery = Type.Object({
    topic: Type.Optional(Repeated('topic filters: exact (container.started) or a prefix (container.*)')),
    since: Type.Optional(
      Type.String({
        pattern: RFC3339_OR_UNIX,
        description: `first the events published at or after this time that the agent still holds (its last ${EVENT_HISTORY}), then live ones; RFC 3339 time or unix seconds`,
        [REASON]: 'must be an RFC 3339 time (2026-12-07T10:00:00Z) or unix seconds, got {value}',
      }),
    ),
  });
  type EventsQuery = { topic?: string | string[]; since?: string };
  /** `since` as ms, read as `berth logs --since` reads it (unix seconds or RFC 3339). */
  const sinceMs = (q: EventsQuery) =>
    q.since === undefined ? {} : { sinceMs: Date.parse(parseTimeBound(q.since, 'since')) };
  // Counters of running containers (all, or `?name=` each named), read now: `berth stats` makes rates.
  const statsSchema = {
    querystring: Type.Object({
      name: Type.Optional(Repeated('containers to measure; all running when absent')),
    }),
    response: responses({ 200: Stats }),
  };
  app.get<{ Querystring: { name?: string | string[] } }>(
    '/v1/stats',
    { schema: statsSchema },
    async (req) => {
      if (!stats) throw new NotImplementedError('stats: this agent has no cgroup reader');
      return stats.read(req.query.name === undefined ? [] : [req.query.name].flat());
    },
  );

  // A client that stops reading is cut off (src/api/README.md), never buffered for without bound.
  const eventsSchema = {
    querystring: topicQuery,
    response: ndjsonResponse(Type.Union([EventEnvelope, StreamError]), 'events as they happen'),
  };
  app.get<{ Querystring: EventsQuery }>('/v1/events', { schema: eventsSchema }, async (req, reply) => {
    const topics = req.query.topic === undefined ? [] : [req.query.topic].flat();
    const out = ndjson(reply);
    const stop = new AbortController();
    out.closed.addEventListener('abort', () => stop.abort());
    const guard = guardNdjson(reply.raw, '/v1/events', logger, () => stop.abort());
    try {
      for await (const env of events.subscribe({ topics, signal: stop.signal, ...sinceMs(req.query) })) {
        out.write(env);
        if (guard.check()) break;
      }
    } catch (err) {
      out.write({ error: { message: String(err) } });
    } finally {
      guard.dispose();
    }
    if (!guard.cut) out.end();
  });

  app.get<{ Querystring: EventsQuery }>(
    '/v1/ws/events',
    {
      websocket: true,
      schema: documented({
        querystring: topicQuery,
        description:
          'WebSocket: one text message per event envelope; closed 1008 when the client is too slow',
        messages: EventEnvelope,
        response: responses({ 101: SwitchingProtocols }),
      }),
    },
    (socket, req) => {
      const topics = req.query.topic === undefined ? [] : [req.query.topic].flat();
      const ac = new AbortController();
      socket.on('close', () => ac.abort());
      const guard = guardWebSocket(socket, '/v1/ws/events', logger, () => ac.abort());
      void (async () => {
        try {
          for await (const env of events.subscribe({ topics, signal: ac.signal, ...sinceMs(req.query) })) {
            socket.send(JSON.stringify(env));
            if (guard.check()) break;
          }
        } catch (err) {
          socket.close(1011, String(err).slice(0, 100));
        } finally {
          guard.dispose();
        }
      })();
    },
  );
}
