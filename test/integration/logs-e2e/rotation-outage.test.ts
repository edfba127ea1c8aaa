/**
 * The receiver goes away while rotations are due (`--log-max-size 256k`, so
 * the cap for the file and `.1` together is 1 MiB):
 *
 * - a 10 s outage: the rotation waits for the shipper (the old file is not
 *   acknowledged), the file grows past 256 KiB, nothing is dropped, the disk
 *   stays under the cap;
 * - a 25 s outage: the cap is reached, the old file is replaced anyway and
 *   `berth_log_old_files_dropped_total` counts it; the disk still stays under
 *   the cap (plus what is written between two looks of the rotator).
 *
 * Every line still arrives, in order: during an outage the reader keeps
 * reading into the disk spool, which is what ships the dropped file's lines.
 */
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestAgent } from '../../harness/agent.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, describeAccount, IMAGE, metricValue, numberedScript, ok, waitAll } from './e2e.js';

// 600 bursts of 100 lines 0.1 s apart: ~60 s at ~55 KB/s in the file, a rotation every ~5 s.
const TOTAL = 60_000;
const CAP = 4 * 256 * 1024;
/** What the container writes between two looks of the rotator, with room for a slow host. */
const TICK_SLACK = 256 * 1024;

const sizeOf = (p: string) =>
  stat(p).then(
    (s) => s.size,
    () => 0,
  );

describe('log rotation while the receiver is down', () => {
  let receiver: ForwardReceiver;
  let agent: TestAgent | undefined;
  let dir = '';
  before(async () => {
    receiver = await ForwardReceiver.start();
    dir = await tempDir('berth-logs-rot-outage-');
    const config = join(dir, 'agent.json');
    // Reconnect within a second of the receiver's return (see outage.test.ts).
    await writeFile(config, JSON.stringify({ logs: { backoffMax: '1s', retryMax: '1s' } }));
    agent = await agentWithImage([
      '--config',
      config,
      '--fluentd',
      `127.0.0.1:${receiver.port}`,
      '--log-max-size',
      '256k',
    ]);
  });
  after(async () => {
    await agent?.stop();
    await receiver?.stop();
    if (dir) await removeDir(dir);
  });

  test('rotations wait for the shipper up to the cap; a cap overrun is counted; nothing is lost', async (t) => {
    assert.ok(agent);
    const a = agent;
    const name = `rout-${process.pid}`;
    await ok(a, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', numberedScript(TOTAL, 600, 0.1, 'line ')]);
    const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ logPath?: string }>;
    const path = d?.logPath;
    assert.ok(path);
    let maxDisk = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxDisk = Math.max(maxDisk, (await sizeOf(path)) + (await sizeOf(`${path}.1`)));
        await sleep(100);
      }
    })();
    try {
      await receiver.waitFor(3_000, 20_000);
      await receiver.down();
      await sleep(10_000);
      const deferredA = await metricValue(a, 'berth_log_rotations_deferred_total');
      const droppedA = await metricValue(a, 'berth_log_old_files_dropped_total');
      const fileA = await sizeOf(path);
      t.diagnostic(
        `after a 10 s outage: deferred ${deferredA}, dropped ${droppedA}, file ${fileA} bytes, most on disk ${maxDisk}`,
      );
      assert.ok(deferredA >= 1, 'a due rotation waited for the shipper');
      assert.equal(droppedA, 0, 'nothing dropped below the cap');
      assert.ok(fileA > 256 * 1024, `the file grew past logMaxSize while waiting (${fileA} bytes)`);
      await receiver.up();
      await sleep(3_000);
      await receiver.down();
      await sleep(25_000);
      const droppedB = await metricValue(a, 'berth_log_old_files_dropped_total');
      t.diagnostic(`after a 25 s outage: dropped ${droppedB}, most on disk ${maxDisk}`);
      assert.ok(droppedB >= 1, 'past the cap the old file was dropped, and counted');
      await receiver.up();
      const acc = await waitAll(receiver, name, TOTAL, 60_000, 'line ');
      t.diagnostic(`${describeAccount(name, acc)}; most on disk (file + .1) ${maxDisk} of a ${CAP} cap`);
      assert.equal(acc.lost, 0, describeAccount(name, acc));
      assert.equal(acc.outOfOrder, 0, describeAccount(name, acc));
      assert.ok(maxDisk <= CAP + TICK_SLACK, `file + .1 reached ${maxDisk} bytes`);
    } finally {
      sampling = false;
      await sampler;
    }
    await ok(a, ['rm', '-f', name]);
  });
});
