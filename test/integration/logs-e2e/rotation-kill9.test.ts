/**
 * kill -9 of the agent across a rotation: the committed position is on the
 * rotated-away file (`.1`) when the agent dies, the container keeps printing
 * while it is gone, and the restarted agent resumes on `.1`, reads it to its
 * end, then the current file. Every line arrives; duplicates only within the
 * re-send window (what was sent and not acknowledged at the kill).
 *
 * The receiver holds its acks back for a moment before the kill, so the
 * committed position stays where it is while berth rotates past it (the old
 * `.1` was acknowledged, so that rotation may go on): the position is then on
 * `.1`, which the test checks in the positions file before killing. The
 * restarted agent goes on rotating the container (live restore: its conmon's
 * control FIFO is still in the bundle).
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import {
  account,
  agentWithImage,
  describeAccount,
  IMAGE,
  metricValue,
  numberedScript,
  ok,
  waitAll,
} from './e2e.js';

const TOTAL = 200_000;

describe('log shipping survives kill -9 of the agent across a rotation', () => {
  let receiver: ForwardReceiver;
  let agent: TestAgent | undefined;
  before(async () => {
    receiver = await ForwardReceiver.start();
    agent = await agentWithImage(['--fluentd', `127.0.0.1:${receiver.port}`, '--log-max-size', '2m']);
  });
  after(async () => {
    receiver?.pauseAcks(false);
    await agent?.stop();
    await receiver?.stop();
  });

  test('the restarted agent resumes on .1 and every line arrives', async (t) => {
    assert.ok(agent);
    const a = agent;
    const name = `rk9-${process.pid}`;
    // 100 bursts of 2,000 lines 0.2 s apart (~20 s, ~0.5 MB/s): a rotation at 2 MiB every ~4 s. The
    // cap (8 MiB for both files) leaves room for what is written while acks are held, the agent is
    // down and the restarted shipper catches up (~3 s, ~2 MB).
    await ok(a, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', numberedScript(TOTAL, 100, 0.2)]);
    const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ logPath?: string }>;
    const path = d?.logPath;
    assert.ok(path);
    await receiver.waitFor(30_000, 30_000);
    receiver.pauseAcks(true);
    const positions = join(a.stateRoot, 'logs', 'positions.json');
    const onOld = await pollUntil(
      'the committed position is on .1 (a rotation went past it)',
      async () => {
        const files = (
          JSON.parse(await readFile(positions, 'utf8').catch(() => '{}')) as {
            files?: Record<string, { inode: number; offset: number }>;
          }
        ).files;
        const pos = files?.[path];
        const old = await stat(`${path}.1`).catch(() => undefined);
        return pos && old && pos.inode === old.ino ? { pos, oldSize: old.size } : undefined;
      },
      20_000,
      50,
    );
    await a.kill9();
    const atKill = account(receiver.records(), name, TOTAL);
    t.diagnostic(
      `at kill -9: position ${onOld.pos.offset} of .1's ${onOld.oldSize} bytes; ${describeAccount(name, atKill)}`,
    );
    receiver.pauseAcks(false);
    await sleep(1_000);
    await a.restart();
    const acc = await waitAll(receiver, name, TOTAL, 90_000);
    const dropped = await metricValue(a, 'berth_log_old_files_dropped_total');
    const rotated = await metricValue(a, 'berth_log_rotations_total');
    t.diagnostic(
      `${describeAccount(name, acc)}; after the restart: ${rotated} rotations, ${dropped} old files dropped`,
    );
    assert.ok(
      atKill.unique < TOTAL,
      'the kill came after the container had finished; the test proves nothing',
    );
    assert.equal(acc.lost, 0, describeAccount(name, acc));
    assert.equal(acc.outOfOrder, 0, describeAccount(name, acc));
    assert.equal(dropped, 0);
    // Live restore: the restarted agent rotates the container an earlier agent started.
    assert.ok(rotated >= 1, 'the restarted agent rotated the running container');
    // Re-sent: what was sent and not acknowledged at the kill (held acks: at most the
    // reader's read-ahead and the send window, a few batches of 1,000).
    assert.ok(acc.duplicated <= 20_000, describeAccount(name, acc));
    await ok(a, ['rm', '-f', name]);
  });
});
