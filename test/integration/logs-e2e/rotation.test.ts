/**
 * Rotation under load: berth rotates the container's log file at
 * `--log-max-size 256k` (renamed to `.1`, conmon reopens through its control
 * FIFO) about 40 times while 200,000 lines flow, a rotation every ~0.1 s.
 * Every line reaches the receiver once, in order. With conmon rotating by
 * itself (`--log-size-max`, no old file kept) this case lost 3-8 whole files
 * per run (sidecar/logs/README.md, "As measured").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, describeAccount, IMAGE, metricValue, numberedScript, ok, waitAll } from './e2e.js';

const TOTAL = 200_000;
// Lines are ~57 bytes in the file (46 of them conmon's prefix): 200,000 lines are
// ~11 MB, so a 256 KiB cap rotates ~40 times.
const MAX_SIZE = '256k';

describe('log shipping across berth rotations under load', () => {
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

  test('200,000 lines through ~40 rotations arrive once, in order', async (t) => {
    assert.ok(agent);
    const name = `rot-${process.pid}`;
    // 40 bursts of 5,000 lines (~285 KB) 0.1 s apart: about a rotation a burst.
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
    const a = await waitAll(receiver, name, TOTAL, 90_000, 'line ');
    const rotations = await metricValue(agent, 'berth_log_rotations_total');
    const dropped = await metricValue(agent, 'berth_log_old_files_dropped_total');
    const deferred = await metricValue(agent, 'berth_log_rotations_deferred_total');
    t.diagnostic(
      `${describeAccount(name, a)}; rotations ${rotations}, deferred ${deferred}, old files dropped ${dropped}`,
    );
    assert.equal(a.lost, 0, describeAccount(name, a));
    assert.equal(a.duplicated, 0, describeAccount(name, a));
    assert.equal(a.outOfOrder, 0, describeAccount(name, a));
    // Unloaded, ~40 rotations and no old file dropped. On a loaded host the shipper can lag
    // more than the cap (1 MiB, ~0.4 s of this writer) behind: then an old file it still reads
    // is replaced (counted; the reader holds it open, so no line is lost while the agent runs).
    assert.ok(rotations >= 5, `only ${rotations} rotations`);
    await ok(agent, ['rm', '-f', name]);
  });
});
