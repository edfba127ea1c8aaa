/**
 * Rotation under load: conmon rotates the container's log file at
 * `--log-max-size` (conmon's --log-size-max: a new file renamed over the
 * path, the old one unlinked) many times while the shipper tails it. Every
 * line reaches the receiver.
 *
 * Needs the agent option `--log-max-size` (config row `logMaxSize`, passed to
 * the executor as `logSizeMax`); see sidecar/logs/README.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, describeAccount, IMAGE, numberedScript, ok, waitAll } from './e2e.js';

const TOTAL = 200_000;
// Lines are ~57 bytes in the file (46 of them conmon's prefix): 200,000 lines are
// ~11 MB, so a 1 MiB cap rotates ~10 times, about every half second.
const MAX_SIZE = '1m';

describe('log shipping across conmon rotations under load', () => {
  let receiver: ForwardReceiver;
  let agent: TestAgent | undefined;
  before(async () => {
    receiver = await ForwardReceiver.start();
    agent = await agentWithImage(['--fluentd', `127.0.0.1:${receiver.port}`, '--log-max-size', MAX_SIZE]);
  });
  after(async () => {
    await agent?.stop();
    await receiver?.stop();
  });

  test('200,000 lines through ~10 rotations arrive, in order', async (t) => {
    assert.ok(agent);
    const name = `rot-${process.pid}`;
    // 40 bursts of 5,000 lines (~235 KB) 0.1 s apart: a rotation every
    // ~4-5 bursts while the shipper is reading.
    await ok(agent, [
      'run',
      '-d',
      '--name',
      name,
      IMAGE,
      'sh',
      '-c',
      numberedScript(TOTAL, 40, 0.1, 'line '),
    ]);
    const a = await waitAll(receiver, name, TOTAL, 60_000, 'line ');
    t.diagnostic(describeAccount(name, a));
    assert.equal(a.lost, 0, describeAccount(name, a));
    assert.equal(a.outOfOrder, 0, describeAccount(name, a));
    // The file really rotated: what is left at the path is at most the cap.
    const [d] = JSON.parse(await ok(agent, ['inspect', name])) as Array<Record<string, unknown>>;
    const logs = await agent.cli(['logs', name]);
    const kept = logs.stdout.split('\n').filter(Boolean).length;
    t.diagnostic(`berth logs shows the last ${kept} lines (log path ${String(d?.logPath)})`);
    assert.ok(kept < TOTAL, `no rotation happened: berth logs still has all ${kept} lines`);
    await ok(agent, ['rm', '-f', name]);
  });
});
