/**
 * A container's log is bounded on disk by default, and `berth logs` shows
 * the rotated lines too (berth's rotation keeps `<path>.1`).
 *
 * - An agent started without `--log-max-size` (no log shipping) runs a
 *   container that prints 14 MB over ~4 s: berth rotates at the default
 *   10 MiB, `.1` holds the old file, and neither file is over 10 MiB plus
 *   what is written between two looks of the rotator (0.1 s for a file over
 *   half the size); `berth logs --tail` shows the last lines.
 * - With `--log-max-size 64k`, `berth logs --tail N` across a rotation shows
 *   the lines of `.1` and of the current file, in order, without a gap; `berth
 *   rm` leaves neither file behind.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { agentWithImage, IMAGE, numberedScript, ok } from './e2e.js';

const BOUND = 10 * 1024 * 1024;
// 70,000 lines of 201 bytes: 14 MB of output, ~17 MB in k8s-file form, in 20 bursts 0.2 s apart.
const LINES = 70_000;
/** Output between two looks of the rotator (0.1 s at ~4 MB/s), with room for a slow host. */
const TICK_SLACK = 4 * 1024 * 1024;

const sizeOf = (p: string) =>
  stat(p).then(
    (s) => s.size,
    () => undefined,
  );

async function exited(a: TestAgent, name: string): Promise<void> {
  await pollUntil(
    `${name} exits`,
    async () => {
      const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ state?: string }>;
      return d?.state === 'exited' ? true : undefined;
    },
    60_000,
    200,
  );
}

async function logPathOf(a: TestAgent, name: string): Promise<string> {
  const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ logPath?: string }>;
  assert.ok(d?.logPath, 'inspect names the log path');
  return d.logPath;
}

describe('container log files are bounded on disk by default', () => {
  let agent: TestAgent | undefined;
  let small: TestAgent | undefined;
  before(async () => {
    agent = await agentWithImage();
  });
  after(async () => {
    await agent?.stop();
    await small?.stop();
  });

  test('a container printing 14 MB leaves files of at most 10 MiB (+ one look of output), and --tail still works', async (t) => {
    assert.ok(agent);
    const a = agent;
    const name = `bound-${process.pid}`;
    const script = `i=0; while [ $i -lt 20 ]; do yes "$(printf '%0199d' 0)" | head -n ${LINES / 20}; sleep 0.2; i=$((i+1)); done; echo last-line`;
    await ok(a, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', script]);
    const path = await logPathOf(a, name);
    let maxCur = 0;
    let maxOld = 0;
    const sample = async () => {
      maxCur = Math.max(maxCur, (await sizeOf(path)) ?? 0);
      maxOld = Math.max(maxOld, (await sizeOf(`${path}.1`)) ?? 0);
    };
    await pollUntil(
      'the container exits',
      async () => {
        await sample();
        const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ state?: string }>;
        return d?.state === 'exited' ? true : undefined;
      },
      60_000,
      100,
    );
    // The rotator's next tick rotates a file left over the bound (the rename alone: conmon is gone).
    await pollUntil(
      'the file at the path is under the bound',
      async () => {
        await sample();
        return ((await sizeOf(path)) ?? 0) <= BOUND ? true : undefined;
      },
      5_000,
      100,
    );
    t.diagnostic(`largest file at the path ${maxCur} bytes, largest .1 ${maxOld} bytes`);
    assert.ok(maxOld > 0, 'berth rotated: .1 exists');
    assert.ok(maxCur <= BOUND + TICK_SLACK, `the log file reached ${maxCur} bytes`);
    assert.ok(maxOld <= BOUND + TICK_SLACK, `.1 reached ${maxOld} bytes`);
    const tail = await a.cli(['logs', '--tail', '2', name]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(tail.stdout.split('\n').filter(Boolean), ['0'.repeat(199), 'last-line']);
    await ok(a, ['rm', '-f', name]);
  });

  test('--tail across a rotation shows .1 and the current file in order; rm removes both', async (t) => {
    small = await agentWithImage(['--log-max-size', '64k']);
    const a = small;
    const name = `tail-${process.pid}`;
    // 8,000 numbered lines (~50 bytes each in the file: ~400 KB) over ~4 s: several rotations at
    // 64 KiB; then, once rotating is done, 10 more, so that the current file holds lines too.
    const script = `${numberedScript(8000, 40, 0.1, 'n')}\nsleep 1.5; seq 8001 8010 | sed 's/^/n/'`;
    await ok(a, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', script]);
    await exited(a, name);
    const path = await logPathOf(a, name);
    const cur = (await sizeOf(path)) ?? 0;
    const old = (await sizeOf(`${path}.1`)) ?? 0;
    t.diagnostic(`file ${cur} bytes, .1 ${old} bytes`);
    assert.ok(old > 0, 'a rotation kept .1');
    const all = (await ok(a, ['logs', name])).split('\n').filter(Boolean);
    const nums = all.map((l) => Number(l.slice(1)));
    assert.equal(nums[nums.length - 1], 8010);
    assert.deepEqual(
      nums,
      Array.from({ length: nums.length }, (_, i) => 8010 - nums.length + 1 + i),
    );
    const inCurrent = (await readFile(path, 'utf8')).split('\n').filter(Boolean).length;
    assert.ok(inCurrent > 0, 'the current file holds lines');
    assert.ok(
      nums.length > inCurrent,
      `berth logs shows ${nums.length} lines, the current file ${inCurrent}`,
    );
    const n = nums.length - 10;
    const tail = (await ok(a, ['logs', '--tail', String(n), name])).split('\n').filter(Boolean);
    assert.deepEqual(tail, all.slice(10), '--tail N counts across .1 and the current file');
    await ok(a, ['rm', name]);
    assert.equal(await sizeOf(path), undefined, 'rm removed the log file');
    assert.equal(await sizeOf(`${path}.1`), undefined, 'rm removed .1');
  });
});
