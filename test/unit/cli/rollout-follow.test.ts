/**
 * RolloutFollower over a fake event stream (pure logic): only the project's
 * rollout events are drawn, a status fills in a step only when it names one,
 * stop() ends an open rollout with how the final status says it ended, and an
 * event arriving after stop() is not drawn after the end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiClient } from '../../../src/cli/client.js';
import { RolloutFollower } from '../../../src/cli/commands/rollout-follow.js';
import type { RolloutProgress } from '../../../src/deploy/contract.js';
import type { ProjectStatus } from '../../../src/deploy/types.js';

const p = (o: Partial<RolloutProgress>): RolloutProgress => ({
  service: 'web',
  kind: 'update',
  phase: 'running',
  oldCount: 2,
  newCount: 0,
  failures: 0,
  ...o,
});

/** A client whose /v1/events stream yields what `push` is given, until its signal aborts. */
function fakeClient() {
  const queue: unknown[] = [];
  let wake: (() => void) | undefined;
  const asked: unknown[] = [];
  const client = {
    async *stream(_m: string, path: string, o: { query?: unknown; signal?: AbortSignal }) {
      asked.push({ path, query: o.query });
      while (!o.signal?.aborted) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
          o.signal?.addEventListener('abort', () => r(), { once: true });
        });
      }
    },
  };
  const push = (project: string, ev: RolloutProgress) => {
    queue.push({ topic: 'project.rollout.progress', event: { project, ...ev } });
    wake?.();
  };
  return { client: client as unknown as ApiClient, push, asked };
}

const status = (rollout: RolloutProgress): ProjectStatus =>
  ({ name: 'shop', services: [{ name: 'web', rollout }] }) as unknown as ProjectStatus;

const tick = () => new Promise((r) => setTimeout(r, 5));

test('draws the project’s rollout events, one line per change, and ends with the final status', async () => {
  const { client, push, asked } = fakeClient();
  const out: string[] = [];
  const f = new RolloutFollower(client, 'shop', { write: (s) => out.push(s) });
  f.fromStatus(status(p({ oldCount: 0 }))); // saved, not stepped: no counts, not drawn
  push('other', p({ waiting: { name: 'other-web-3', for: 'start' } }));
  push('shop', p({ waiting: { name: 'shop-web-3', for: 'start' } }));
  push('shop', p({ waiting: { name: 'shop-web-3', for: 'start' } }));
  push('shop', p({ newCount: 1, waiting: { name: 'shop-web-3', for: 'ready' } }));
  await tick();
  assert.deepEqual(asked, [{ path: '/v1/events', query: { topic: 'project.rollout.*' } }]);
  assert.deepEqual([...f.open], ['web']);
  await f.stop(status(p({ phase: 'done', oldCount: 0, newCount: 2 })));
  push('shop', p({ newCount: 1, waiting: { name: 'shop-web-1', for: 'retire' } }));
  await tick();
  assert.deepEqual(out, [
    'web  update  old 2 → new 0  starting shop-web-3\n',
    'web  update  old 2 → new 1  waiting for ready shop-web-3\n',
    'web  update  old 0 → new 2  done\n',
  ]);
});

test('a status naming a step is drawn when no event said it yet', async () => {
  const { client } = fakeClient();
  const out: string[] = [];
  const f = new RolloutFollower(client, 'shop', { write: (s) => out.push(s) });
  f.fromStatus(status(p({ newCount: 1, waiting: { name: 'shop-web-3', for: 'ready' } })));
  await f.stop();
  assert.deepEqual(out, ['web  update  old 2 → new 1  waiting for ready shop-web-3\n']);
});
