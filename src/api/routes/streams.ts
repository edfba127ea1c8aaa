import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { parseDuration } from '../../../runtime/base/duration.js';
import {
  errorCode,
  InvalidArgumentError,
  isNotFound,
  messageOf,
  NotImplementedError,
} from '../../../runtime/base/errors.js';
import type { Logger } from '../../../runtime/base/log.js';
import type { LogQuery } from '../../../runtime/runtime.js';
import type { ContainerDescriptor, ContainerEvent } from '../../../runtime/types.js';
import { guardWebSocket, STALL_BYTES } from '../backpressure.js';
import { LogBatcher, type LogMessage } from '../log-batcher.js';
import {
  documented,
  LogBatch,
  LogsStreamQuery,
  responses,
  StatsMessage,
  StatsStreamQuery,
  SwitchingProtocols,
} from '../schemas.js';
import { statsMessage } from '../stats-rates.js';
import type { ApiDeps } from '../types.js';
import { containerLogs, flag, intParam } from './containers.js';

const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';
/** How often a waiting log stream looks whether its client read (ws has no drain event). */
const DRAIN_POLL_MS = 25;
const MIN_INTERVAL_MS = 250;
const MAX_INTERVAL_MS = 60_000;

type LogsQuery = {
  container?: string | string[];
  project?: string;
  service?: string;
  tail?: string;
  follow?: string;
  since?: string;
};

/** What `/v1/ws/logs` follows, resolved before the upgrade so that an unknown name is a 404. */
interface Selection {
  ids: Set<string>;
  project?: string;
  service?: string;
}

const selections = new WeakMap<FastifyRequest, Selection>();

function selects(sel: Selection, d: ContainerDescriptor): boolean {
  if (sel.ids.has(d.id)) return true;
  if (sel.project === undefined && sel.service === undefined) return false;
  return (
    (sel.project === undefined || d.labels[PROJECT_LABEL] === sel.project) &&
    (sel.service === undefined || d.labels[SERVICE_LABEL] === sel.service)
  );
}

/** Sends `{error}` as the last message and closes 1011: a failure after the upgrade. */
function fail(socket: WebSocket, err: unknown): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ error: { code: errorCode(err) ?? 'Internal', message: messageOf(err) } }));
  socket.close(1011, messageOf(err).slice(0, 123));
}

/** `/v1/ws/logs` and `/v1/ws/stats`: the dashboard's live streams (src/api/README.md). */
export function registerStreamRoutes(
  app: FastifyInstance,
  { runtime, events, stats, observed }: ApiDeps,
  logger: Logger,
): void {
  app.get<{ Querystring: LogsQuery }>(
    '/v1/ws/logs',
    {
      websocket: true,
      schema: documented({
        querystring: LogsStreamQuery,
        description:
          'WebSocket: the output of the selected containers, merged, as JSON arrays of lines (batches flushed every 50 ms, 500 lines or 256 KiB); with follow, replicas that start later are followed too; closed 1008 when the client is too slow, 1000 at the end without follow',
        messages: LogBatch,
        response: responses({ 101: SwitchingProtocols }),
      }),
      // Before the upgrade: a bad selection is an HTTP error the client can read.
      preHandler: async (req) => {
        const q = req.query;
        const names = q.container === undefined ? [] : [q.container].flat();
        if (names.length === 0 && q.project === undefined && q.service === undefined) {
          throw new InvalidArgumentError('container: name a container, a project or a service', {
            field: 'container',
          });
        }
        const ids = new Set<string>();
        // An observed container (observe mode) by its name too, when berth's runtime has none of it.
        for (const n of names) {
          const d = await runtime.get(n).catch(async (err: unknown) => {
            if (!observed?.logs || !isNotFound(err)) throw err;
            return observed.get(n).catch(() => Promise.reject(err));
          });
          ids.add(d.id);
        }
        selections.set(req, {
          ids,
          ...(q.project !== undefined ? { project: q.project } : {}),
          ...(q.service !== undefined ? { service: q.service } : {}),
        });
      },
    },
    (socket, req) => {
      const sel = selections.get(req);
      if (!sel) return fail(socket, new Error('selection lost'));
      const q = req.query;
      const follow = flag({ follow: q.follow }, 'follow');
      const tail = q.tail === 'all' ? undefined : intParam({ tail: q.tail }, 'tail');
      const ac = new AbortController();
      const guard = guardWebSocket(socket, '/v1/ws/logs', logger, () => ac.abort());
      const batcher = new LogBatcher(async (batch) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify(batch));
        // Read on only while less than STALL_BYTES waits for this client; the guard cuts it off
        // when that lasts STALL_MS, so nothing piles up for a client that stopped reading.
        while (!guard.check() && socket.bufferedAmount > STALL_BYTES && socket.readyState === socket.OPEN) {
          await sleep(DRAIN_POLL_MS);
        }
      });
      socket.on('close', () => {
        ac.abort();
        batcher.close();
        guard.dispose();
      });
      const failed = (err: unknown) => {
        fail(socket, err);
        ac.abort();
      };
      void streamLogs({
        sel,
        follow,
        tail,
        since: q.since,
        signal: ac.signal,
        push: (m) => batcher.push(m),
        failed,
      })
        .then(async () => {
          await batcher.flush();
          if (!follow && socket.readyState === socket.OPEN) socket.close(1000, 'end of logs');
        })
        .catch(failed);
    },
  );

  async function streamLogs(o: {
    sel: Selection;
    follow: boolean;
    tail: number | undefined;
    since: string | undefined;
    signal: AbortSignal;
    push: (m: LogMessage) => Promise<void>;
    /** A container's reader failed (not by its removal): the stream ends with the error. */
    failed: (err: unknown) => void;
  }): Promise<void> {
    /** Containers being read now, and the time of the last line sent of each (a restart reads on from it). */
    const reading = new Set<string>();
    const last = new Map<string, string>();
    const readers: Promise<void>[] = [];
    const read = (d: ContainerDescriptor, query: LogQuery) => {
      if (reading.has(d.id) || o.signal.aborted) return;
      reading.add(d.id);
      const skip = last.get(d.id);
      const p = (async () => {
        try {
          const lines = await containerLogs(runtime, observed, d.id, {
            ...query,
            stdout: true,
            stderr: true,
            signal: o.signal,
          });
          for await (const l of lines()) {
            if (l.time === skip) continue;
            last.set(d.id, l.time);
            await o.push({ container: d.name, ...l });
          }
        } catch (err) {
          // Removed while read: its lines end here, the others go on.
          if (!isNotFound(err)) o.failed(err);
        } finally {
          reading.delete(d.id);
        }
      })();
      readers.push(p);
    };
    const first: LogQuery = {
      follow: o.follow,
      ...(o.tail !== undefined ? { tail: o.tail } : {}),
      ...(o.since !== undefined ? { since: o.since } : {}),
    };
    // Subscribed before listing (the informer's order), so a replica starting in between is not missed.
    const started = o.follow
      ? events.subscribe({ topics: ['container.started'], signal: o.signal })
      : undefined;
    const own = await runtime.list({ all: true });
    const ownIds = new Set(own.map((d) => d.id));
    // Observed containers (observe mode) are read when named, never by project or service.
    const named = observed?.logs
      ? (await observed.list({ all: true })).filter((d) => o.sel.ids.has(d.id) && !ownIds.has(d.id))
      : [];
    for (const d of [...own, ...named]) if (selects(o.sel, d)) read(d, first);
    if (started) {
      for await (const env of started) {
        const d = (env.event as ContainerEvent).container;
        if (!d || !selects(o.sel, d)) continue;
        // A new replica from its first line; a restarted one from where it was left.
        const from = last.get(d.id);
        read(d, { follow: true, ...(from ? { since: from } : {}) });
      }
    }
    await Promise.all(readers);
  }

  app.get<{ Querystring: { name?: string | string[]; interval?: string } }>(
    '/v1/ws/stats',
    {
      websocket: true,
      schema: documented({
        querystring: StatsStreamQuery,
        description:
          'WebSocket: per-container CPU (cores), memory, net and block IO rates and pids, one message per interval, from the cgroup readers /metrics uses',
        messages: StatsMessage,
        response: responses({ 101: SwitchingProtocols }),
      }),
      preHandler: async (req) => {
        if (!stats) throw new NotImplementedError('stats: this agent has no cgroup reader');
        intervalMs(req.query.interval);
      },
    },
    (socket, req) => {
      const names = req.query.name === undefined ? [] : [req.query.name].flat();
      const every = intervalMs(req.query.interval);
      const ac = new AbortController();
      socket.on('close', () => ac.abort());
      const guard = guardWebSocket(socket, '/v1/ws/stats', logger, () => ac.abort());
      void (async () => {
        const reader = stats;
        if (!reader) return;
        let prev = await reader.read(names);
        while (!ac.signal.aborted) {
          await sleep(every, undefined, { signal: ac.signal }).catch(() => undefined);
          if (ac.signal.aborted) break;
          const now = await reader.read(names);
          socket.send(JSON.stringify(statsMessage(prev, now)));
          prev = now;
          if (guard.check()) break;
        }
      })()
        .catch((err: unknown) => fail(socket, err))
        .finally(() => guard.dispose());
    },
  );
}

function intervalMs(v: string | undefined): number {
  if (v === undefined) return 1000;
  const ms = parseDuration(v, 'interval');
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new InvalidArgumentError(`interval: must be from 250ms to 60s, got ${JSON.stringify(v)}`, {
      field: 'interval',
    });
  }
  return ms;
}
