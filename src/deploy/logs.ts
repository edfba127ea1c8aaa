import type { LogLine } from '../../runtime/runtime.js';
import type { ActualReplica } from './types.js';

/**
 * Several replicas' log streams as one, interleaved in the order lines
 * arrive (with `follow`, as they are written), each line tagged with its
 * container's name and service. Ends when every stream has ended; a stream
 * that fails ends alone (its container was removed meanwhile).
 */
export async function* mergeLogs(
  replicas: ActualReplica[],
  open: (id: string) => AsyncIterable<LogLine>,
): AsyncGenerator<LogLine & { container: string; service: string }> {
  const its = replicas.map((r) => ({ r, it: open(r.id)[Symbol.asyncIterator]() }));
  type Next = { i: number; res: IteratorResult<LogLine> | undefined };
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
  for (let i = 0; i < its.length; i++) pull(i);
  try {
    while (pending.size > 0) {
      const { i, res } = await Promise.race(pending.values());
      pending.delete(i);
      const e = its[i];
      if (res === undefined || res.done || e === undefined) continue;
      yield { ...res.value, container: e.r.name, service: e.r.service };
      pull(i);
    }
  } finally {
    await Promise.allSettled(its.map((e) => e.it.return?.()));
  }
}
