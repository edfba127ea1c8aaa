import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../../runtime/runtime.js';
import type { ActualReplica } from './types.js';

/** How often a followed stream looks for replicas started after it opened. */
export const NEW_REPLICA_POLL_MS = 500;

/**
 * Several replicas' log streams as one, interleaved in the order lines
 * arrive (with `follow`, as they are written), each line tagged with its
 * container's name and service. `later`, when given (follow), yields
 * replicas that started after the stream opened (a rollout's new replicas,
 * a heal's replacement, a scale-up); each is opened as it comes. Ends when
 * every stream has ended and `later` has ended; a stream that fails ends
 * alone (its container was removed meanwhile).
 */
export async function* mergeLogs(
  replicas: ActualReplica[],
  open: (id: string) => AsyncIterable<LogLine>,
  later?: AsyncIterable<ActualReplica>,
): AsyncGenerator<LogLine & { container: string; service: string }> {
  const its = replicas.map((r) => ({ r, it: open(r.id)[Symbol.asyncIterator]() }));
  type Next =
    | { i: number; res: IteratorResult<LogLine> | undefined }
    | { i: -1; added: IteratorResult<ActualReplica> | undefined };
  const pending = new Map<number, Promise<Next>>();
  const pull = (i: number) => {
    const e = its[i];
    if (e === undefined) return;
    pending.set(
      i,
      e.it.next().then(
        (res) => ({ i, res }),
        () => ({ i, res: undefined }),
      ),
    );
  };
  const more = later?.[Symbol.asyncIterator]();
  const pullMore = () => {
    if (more === undefined) return;
    pending.set(
      -1,
      more.next().then(
        (added) => ({ i: -1 as const, added }),
        () => ({ i: -1 as const, added: undefined }),
      ),
    );
  };
  for (let i = 0; i < its.length; i++) pull(i);
  pullMore();
  try {
    while (pending.size > 0) {
      const n = await Promise.race(pending.values());
      pending.delete(n.i);
      if (n.i === -1) {
        if (!('added' in n) || n.added === undefined || n.added.done) continue;
        its.push({ r: n.added.value, it: open(n.added.value.id)[Symbol.asyncIterator]() });
        pull(its.length - 1);
        pullMore();
        continue;
      }
      const e = its[n.i];
      if (!('res' in n) || n.res === undefined || n.res.done || e === undefined) continue;
      yield { ...n.res.value, container: e.r.name, service: e.r.service };
      pull(n.i);
    }
  } finally {
    // `later` ends on the caller's signal; it is not awaited here, since an async
    // generator's return waits for a pending next (a poll's sleep).
    void more?.return?.();
    await Promise.allSettled(its.map((e) => e.it.return?.()));
  }
}

/**
 * The replicas `list` shows that are not in `seen` (by id), polled every
 * `intervalMs` until `signal` aborts; each is yielded once. Polling the
 * agent's own list (in memory) catches every way a replica appears, with no
 * event missed between a subscription and the list read.
 */
export async function* newReplicas(
  list: () => Promise<ActualReplica[]>,
  seen: Set<string>,
  signal: AbortSignal,
  intervalMs = NEW_REPLICA_POLL_MS,
): AsyncGenerator<ActualReplica> {
  while (!signal.aborted) {
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return;
    }
    let found: ActualReplica[];
    try {
      found = await list();
    } catch {
      continue; // The project is being removed: the streams already open end on their own.
    }
    for (const r of found) {
      // A replica only created has no log yet (its stream would end at once): taken once it has started.
      if (seen.has(r.id) || r.state === 'removing' || r.state === 'created') continue;
      seen.add(r.id);
      yield r;
    }
  }
}
