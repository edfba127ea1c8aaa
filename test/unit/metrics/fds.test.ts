import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fdCountFromSize, fdsCollector } from '../../../sidecar/metrics/collectors/fds.js';
import type { CgroupReader } from '../../../sidecar/metrics/types.js';
import { FIXTURES } from './fixture-source.js';

/** Runs the fds collector for this test process as if it were a container's init. */
async function collect(proc: string, pid: number, procs = [pid]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const reader = { procs: async () => procs } as unknown as CgroupReader;
  await fdsCollector.update(
    {
      container: { id: 'x', name: 'x', pid } as never,
      cgroupPath: '/x',
      reader,
      roots: { proc, sys: '/sys', cgroup: '/sys/fs/cgroup' },
      now: 0,
      skip: () => undefined,
    } as never,
    (metric, _labels, value) => out.set(metric, value),
  );
  return out;
}

test('open descriptors of a live process match its /proc/<pid>/fd listing, with 50 more open', async () => {
  const before = (await collect('/proc', process.pid)).get('container_file_descriptors') ?? -1;
  assert.ok(Math.abs(before - readdirSync('/proc/self/fd').length) <= 1, `${before}`);
  const fds = Array.from({ length: 50 }, () => openSync('/dev/null', 'r'));
  try {
    const after = (await collect('/proc', process.pid)).get('container_file_descriptors') ?? -1;
    assert.ok(Math.abs(after - before - 50) <= 1, `before ${before}, after ${after}`);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
});

test('a fixture tree is listed, never read by directory size', async () => {
  assert.equal(fdCountFromSize(`${FIXTURES}v1/proc`), false);
  const counts = await collect(`${FIXTURES}v1/proc`, 4242);
  assert.equal(counts.get('container_file_descriptors'), readdirSync(`${FIXTURES}v1/proc/4242/fd`).length);
});

test('a process that is gone is reported as gone (the container vanished), not as 0 descriptors', async () => {
  await assert.rejects(collect('/proc', 2 ** 22 + 12345), /gone/);
});

test('descriptors of every process in the cgroup are summed, as cAdvisor counts them', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const cpid = child.pid ?? -1;
    const own = readdirSync('/proc/self/fd').length;
    const theirs = readdirSync(`/proc/${cpid}/fd`).length;
    const got = await collect('/proc', process.pid, [process.pid, cpid]);
    assert.equal(got.get('container_processes'), 2);
    assert.ok(
      Math.abs((got.get('container_file_descriptors') ?? -1) - own - theirs) <= 1,
      `${got.get('container_file_descriptors')} vs ${own}+${theirs}`,
    );
    // A process gone between the listing and its count is left out, not a failure.
    const gone = await collect('/proc', process.pid, [process.pid, 2 ** 22 + 7]);
    assert.ok(Math.abs((gone.get('container_file_descriptors') ?? -1) - own) <= 1);
  } finally {
    child.kill('SIGKILL');
  }
});
