import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectCgroups } from '../../../runtime/cgroups/detect.js';
import { CgroupV1Reader } from '../../../sidecar/metrics/cgroup-v1.js';
import { createCgroupReader, HOST_ROOTS } from '../../../sidecar/metrics/reader.js';
import type { CgroupReader } from '../../../sidecar/metrics/types.js';
import { descriptor } from './fixture-source.js';
import { samples, startServer, value } from './helpers.js';

/**
 * Reads this machine's own v1-controller cgroupfs (hybrid or v1; skipped on pure v2): a fresh cgroup in
 * each controller with a `sleep` child in it and a memory limit, read back
 * through the same reader and collector the fixtures drive.
 */
const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'];
const name = `berth-test-${randomBytes(4).toString('hex')}`;
const cgroupPath = `/${name}`;
const LIMIT = 64 * 1024 * 1024;

/** A pure v2 host has no v1 controllers to create cgroups in: the v2 reader is covered by the fixtures. */
const v1Missing = CONTROLLERS.some((c) => !(c in detectCgroups().v1Controllers));

describe('live cgroup v1 on this machine', {
  skip: v1Missing && 'no cgroup v1 controllers on this host',
}, () => {
  let child: ChildProcess | undefined;
  const created: string[] = [];
  let reader: CgroupReader;

  before(async () => {
    for (const c of CONTROLLERS) {
      const dir = join(HOST_ROOTS.cgroup, c, name);
      await mkdir(dir);
      created.push(dir);
    }
    child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = child.pid;
    assert.ok(pid);
    for (const dir of created) await writeFile(join(dir, 'cgroup.procs'), String(pid));
    await writeFile(join(HOST_ROOTS.cgroup, 'memory', name, 'memory.limit_in_bytes'), String(LIMIT));
    await writeFile(join(HOST_ROOTS.cgroup, 'pids', name, 'pids.max'), '32');
    reader = await createCgroupReader(HOST_ROOTS);
  });

  after(async () => {
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    // rmdir fails while a task is still inside; the kernel needs a moment after the kill.
    for (const dir of created) {
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  });

  test('the reader is the v1 one and reads back the limit, the process and usage', async () => {
    assert.ok(reader instanceof CgroupV1Reader);
    const spec = await reader.spec(cgroupPath);
    assert.equal(spec.stats.memoryLimit, LIMIT);
    assert.equal(spec.stats.cpuPeriod, 100000);
    assert.equal(spec.stats.cpuQuota, undefined);
    assert.equal(spec.stats.cpuShares, 1024);
    assert.deepEqual(await reader.procs(cgroupPath), [child?.pid]);
    const pids = await reader.pids(cgroupPath);
    assert.deepEqual(pids.stats, { current: 1, max: 32 });
    const mem = await reader.memory(cgroupPath);
    assert.ok((mem.stats.usage ?? -1) >= 0);
    assert.ok((mem.stats.workingSet ?? -1) <= (mem.stats.usage ?? 0));
    assert.equal(mem.stats.oomKills, 0);
    const cpu = await reader.cpu(cgroupPath);
    assert.ok((cpu.stats.usageSeconds ?? -1) >= 0);
  });

  test('the limit set through cgroupfs is what the kernel reports', async () => {
    const raw = await readFile(join(HOST_ROOTS.cgroup, 'memory', name, 'memory.limit_in_bytes'), 'utf8');
    assert.equal(Number(raw), LIMIT);
  });

  test('end to end: /metrics shows the limit, one process and the netns counters of the pid', async () => {
    const run = await startServer(
      [descriptor({ id: name.padEnd(64, '0'), name, pid: child?.pid, cgroupPath })],
      HOST_ROOTS,
    );
    try {
      const { body } = await run.scrape();
      assert.equal(value(body, 'container_spec_memory_limit_bytes', `id="${cgroupPath}"`), LIMIT);
      assert.equal(value(body, 'container_processes', `id="${cgroupPath}"`), 1);
      assert.equal(value(body, 'container_threads_max', `id="${cgroupPath}"`), 32);
      assert.ok((value(body, 'container_file_descriptors', `id="${cgroupPath}"`) ?? 0) >= 1);
      assert.ok(samples(body, 'container_network_receive_bytes_total').length >= 1);
      assert.ok(
        samples(body, 'container_network_receive_bytes_total').every((l) => !l.includes('interface="lo"')),
      );
      assert.ok((value(body, 'machine_cpu_cores', '') ?? 0) >= 1);
      assert.equal(value(body, 'berth_metrics_collector_success', 'collector="memory"'), 1);
    } finally {
      await run.stop();
    }
  });
});
