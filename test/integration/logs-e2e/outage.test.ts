/**
 * The receiver goes away for a minute while two containers keep writing:
 * records pile up in the agent (memory, then the disk spool), nothing blocks
 * the containers, and once the receiver is back every line arrives, in order
 * per container.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, describeAccount, IMAGE, numberedScript, ok, waitAll } from './e2e.js';

const OUTAGE_MS = 60_000;
// Each container: 66 bursts of 1,000 lines, one every 0.9 s (~60 s of
// output), so lines flow before, throughout and after the outage.
const TOTAL = 66_000;

describe('log shipping across a receiver outage', () => {
  let receiver: ForwardReceiver;
  let agent: TestAgent | undefined;
  let dir = '';
  before(async () => {
    receiver = await ForwardReceiver.start();
    dir = await tempDir('berth-logs-outage-');
    const config = join(dir, 'agent.json');
    // The default reconnect backoff grows to 30 s (±50%), so after a long
    // outage the first reconnect may come that much later; a 1 s cap keeps
    // the test about delivery, not about waiting.
    await writeFile(config, JSON.stringify({ logs: { backoff_max: '1s', retry_max: '1s' } }));
    agent = await agentWithImage(['--config', config, '--fluentd', `127.0.0.1:${receiver.port}`]);
  });
  after(async () => {
    await agent?.stop();
    await receiver?.stop();
    if (dir) await removeDir(dir);
  });

  test(`every line written during a ${OUTAGE_MS / 1000} s outage arrives, in order per container`, async (t) => {
    assert.ok(agent);
    const names = [`out-a-${process.pid}`, `out-b-${process.pid}`];
    const started = Date.now();
    for (const name of names) {
      await ok(agent, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', numberedScript(TOTAL, 66, 0.9)]);
    }
    await receiver.waitFor(2_000, 20_000);
    await receiver.down();
    const atDown = receiver.count;
    t.diagnostic(`receiver down after ${Date.now() - started} ms with ${atDown} records`);
    await sleep(OUTAGE_MS);
    assert.equal(receiver.count, atDown, 'records arrived while the receiver was down');
    await receiver.up();
    const backAt = Date.now();
    for (const name of names) {
      const a = await waitAll(receiver, name, TOTAL, 30_000);
      t.diagnostic(
        `${describeAccount(name, a)}; complete ${Date.now() - backAt} ms after the receiver returned`,
      );
      assert.equal(a.lost, 0, describeAccount(name, a));
      assert.equal(a.outOfOrder, 0, describeAccount(name, a));
    }
    // The containers were never held up: each finished its ~60 s script.
    for (const name of names) {
      const d = await pollUntil(
        `${name} exited`,
        async () => {
          const [x] = JSON.parse(await ok(agent as TestAgent, ['inspect', name])) as Array<
            Record<string, unknown>
          >;
          return x?.state === 'exited' ? x : undefined;
        },
        10_000,
      );
      assert.equal(d.exitCode, 0);
    }
    t.diagnostic(`receiver stats: ${JSON.stringify(receiver.stats)}`);
    await ok(agent, ['rm', '-f', ...names]);
  });
});
