/**
 * kill -9 of the agent while a container writes 200,000 numbered lines: the
 * container keeps writing (conmon owns the file), the restarted agent resumes
 * from the committed positions, and every line reaches the receiver.
 * Duplicates are allowed (at-least-once) and printed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestAgent } from '../../harness/agent.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { account, agentWithImage, describeAccount, IMAGE, numberedScript, ok, waitAll } from './e2e.js';

const TOTAL = 200_000;

describe('log shipping survives kill -9 of the agent', () => {
  let receiver: ForwardReceiver;
  let agent: TestAgent | undefined;
  before(async () => {
    receiver = await ForwardReceiver.start();
    agent = await agentWithImage(['--fluentd', `127.0.0.1:${receiver.port}`]);
  });
  after(async () => {
    await agent?.stop();
    await receiver?.stop();
  });

  test('200,000 lines written across a kill -9 and restart all arrive', async (t) => {
    assert.ok(agent);
    const name = `k9-${process.pid}`;
    // 40 bursts of 5,000 lines, 0.1 s apart: ~4 s of output around the kill.
    await ok(agent, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', numberedScript(TOTAL, 40, 0.1)]);
    // Kill mid-stream: some lines shipped and acked, some read and unacked,
    // the rest still to be written while the agent is gone.
    await receiver.waitFor(30_000, 30_000);
    await agent.kill9();
    const atKill = account(receiver.records(), name, TOTAL);
    t.diagnostic(`at kill -9: ${describeAccount(name, atKill)}`);
    await sleep(1_000);
    await agent.restart();
    const a = await waitAll(receiver, name, TOTAL, 60_000);
    t.diagnostic(describeAccount(name, a));
    assert.ok(
      atKill.unique < TOTAL,
      'the kill came after the container had finished; the test proves nothing',
    );
    assert.equal(a.lost, 0, describeAccount(name, a));
    assert.equal(a.outOfOrder, 0, describeAccount(name, a));
    // Duplicates are bounded by what was in flight at the kill: a batch of
    // at most 1000 records (logs.batch_records) plus whatever was read but not
    // acked. More would mean positions are not committed as acks arrive.
    assert.ok(a.duplicated <= 20_000, describeAccount(name, a));
    await ok(agent, ['rm', '-f', name]);
  });
});
