/**
 * mergeLogs and newReplicas over fake streams (pure logic): lines of several
 * replicas interleave with their names, a replica yielded later is opened
 * and its lines join the stream, the poll ignores replicas already seen,
 * removing or only created, and everything ends with the signal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LogLine } from '../../../runtime/runtime.js';
import { mergeLogs, newReplicas } from '../../../src/deploy/logs.js';
import type { ActualReplica } from '../../../src/deploy/types.js';

const replica = (name: string, state: ActualReplica['state'] = 'running'): ActualReplica =>
  ({
    id: `id-${name}`,
    name,
    service: 'web',
    index: 1,
    configHash: 'h',
    state,
    health: 'none',
  }) as ActualReplica;

/** A stream of `lines`, then (follow) open until `signal` aborts. */
async function* lines(texts: string[], signal?: AbortSignal): AsyncGenerator<LogLine> {
  for (const line of texts) yield { line, stream: 'stdout', time: new Date().toISOString() } as LogLine;
  if (signal && !signal.aborted)
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
}

describe('mergeLogs', () => {
  test('without later replicas: every line with its container, then the end', async () => {
    const got: string[] = [];
    for await (const l of mergeLogs([replica('a'), replica('b')], (id) => lines([`${id} 1`, `${id} 2`]))) {
      got.push(`${l.container} | ${l.line}`);
    }
    assert.deepEqual(got.sort(), ['a | id-a 1', 'a | id-a 2', 'b | id-b 1', 'b | id-b 2']);
  });

  test('a replica yielded later is opened and its lines join; the signal ends it all', async () => {
    const ac = new AbortController();
    let list = [replica('a')];
    const seen = new Set(list.map((r) => r.id));
    const later = newReplicas(async () => list, seen, ac.signal, 10);
    const opened: string[] = [];
    const got: string[] = [];
    const merged = mergeLogs(
      list,
      (id) => {
        opened.push(id);
        return lines([`hello from ${id}`], ac.signal);
      },
      later,
    );
    for await (const l of merged) {
      got.push(`${l.container} | ${l.line}`);
      if (got.length === 1) list = [replica('a'), replica('b', 'created'), replica('c', 'removing')];
      if (got.length === 1) setTimeout(() => (list = [replica('a'), replica('b')]), 50);
      if (got.length === 2) ac.abort();
    }
    assert.deepEqual(got, ['a | hello from id-a', 'b | hello from id-b']);
    assert.deepEqual(opened, ['id-a', 'id-b'], 'b opened once it started, c never, a once');
  });

  test('newReplicas ends at once when its signal aborts, and survives a failing list', async () => {
    const ac = new AbortController();
    let calls = 0;
    const it = newReplicas(
      async () => {
        calls++;
        throw new Error('project removed');
      },
      new Set(),
      ac.signal,
      5,
    );
    setTimeout(() => ac.abort(), 40);
    const out: ActualReplica[] = [];
    for await (const r of it) out.push(r);
    assert.deepEqual(out, []);
    assert.ok(calls >= 2, `polled again after a failure (${calls})`);
  });
});
