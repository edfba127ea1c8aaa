/**
 * A container writing faster than the receiver accepts is not slowed by
 * berth: conmon writes the file, the shipper only reads it (and, with a
 * receiver that is up but slow, waits instead of copying to its spool). The
 * same `seq` runs on an agent without shipping for the baseline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, describeAccount, IMAGE, ok, waitAll } from './e2e.js';

const TOTAL = 500_000;

/** Runs `seq 1 TOTAL` detached and returns how long the process ran (conmon's exit time − start). */
async function timedSeq(agent: TestAgent, name: string): Promise<number> {
  await ok(agent, ['run', '-d', '--name', name, IMAGE, 'seq', '1', String(TOTAL)]);
  const d = await pollUntil(
    `${name} exited`,
    async () => {
      const [x] = JSON.parse(await ok(agent, ['inspect', name])) as Array<Record<string, unknown>>;
      return x?.state === 'exited' ? x : undefined;
    },
    60_000,
    50,
  );
  assert.equal(d.exitCode, 0);
  const ms = Date.parse(String(d.finishedAt)) - Date.parse(String(d.startedAt));
  assert.ok(
    Number.isFinite(ms) && ms >= 0,
    `startedAt ${String(d.startedAt)} finishedAt ${String(d.finishedAt)}`,
  );
  return ms;
}

describe('a slow receiver does not slow a container down', () => {
  let receiver: ForwardReceiver;
  let shipping: TestAgent | undefined;
  let plain: TestAgent | undefined;
  before(async () => {
    receiver = await ForwardReceiver.start();
    [shipping, plain] = await Promise.all([
      agentWithImage(['--fluentd', `127.0.0.1:${receiver.port}`]),
      agentWithImage([]),
    ]);
  });
  after(async () => {
    await Promise.all([shipping?.stop(), plain?.stop()]);
    await receiver?.stop();
  });

  test(`seq 1 ${TOTAL} takes about as long with a slow receiver as with no shipping`, async (t) => {
    assert.ok(shipping && plain);
    // ~50 ms per message of ≤1000 records: at most ~20,000 records/s.
    receiver.slowReads(50);
    const name = `slow-${process.pid}`;
    const baseMs = await timedSeq(plain, `plain-${process.pid}`);
    const shippedMs = await timedSeq(shipping, name);
    const atExit = receiver.count;
    t.diagnostic(
      `seq 1 ${TOTAL}: ${baseMs} ms without shipping, ${shippedMs} ms with a slow receiver (${atExit} records there at exit)`,
    );
    assert.ok(atExit < TOTAL, 'the receiver kept up; the test proves nothing');
    assert.ok(shippedMs < 2 * baseMs + 1000, `${shippedMs} ms with shipping vs ${baseMs} ms without`);
    // Nothing was given up for it: once the receiver speeds up, every line arrives.
    receiver.slowReads(0);
    const a = await waitAll(receiver, name, TOTAL, 60_000);
    t.diagnostic(describeAccount(name, a));
    assert.equal(a.lost, 0, describeAccount(name, a));
    assert.equal(a.outOfOrder, 0, describeAccount(name, a));
  });
});
