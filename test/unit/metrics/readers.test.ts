import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNotFound } from '../../../runtime/base/errors.js';
import { detectCgroups as detectHostCgroups } from '../../../runtime/cgroups/detect.js';
import { CgroupV1Reader, workingSet } from '../../../sidecar/metrics/cgroup-v1.js';
import { CgroupV2Reader, weightToShares } from '../../../sidecar/metrics/cgroup-v2.js';
import { detectCgroups } from '../../../sidecar/metrics/detect.js';
import { createCgroupReader } from '../../../sidecar/metrics/reader.js';
import { fixtureRoots, GONE_ID, WEB_ID, WORKER_ID } from './fixture-source.js';

const WEB = `/berth/${WEB_ID}`;
const WORKER = `/berth/${WORKER_ID}`;

describe('cgroup version detection', () => {
  test('v1 fixture: co-mounted cpu,cpuacct resolve to one directory, the empty cgroup2 beside them is hybrid → v1', async () => {
    const roots = fixtureRoots('v1');
    const layout = await detectCgroups(roots);
    assert.equal(layout.version, 'v1');
    assert.equal(layout.controllers.get('cpu'), `${roots.cgroup}/cpu,cpuacct`);
    assert.equal(layout.controllers.get('cpuacct'), `${roots.cgroup}/cpu,cpuacct`);
    assert.equal(layout.controllers.get('memory'), `${roots.cgroup}/memory`);
    assert.equal(layout.controllers.has('name=systemd'), false);
    assert.equal(layout.unified, `${roots.cgroup}/unified`);
  });

  test('v2 fixture: only cgroup2 at /sys/fs/cgroup → v2 rooted at the cgroup root', async () => {
    const roots = fixtureRoots('v2');
    const layout = await detectCgroups(roots);
    assert.equal(layout.version, 'v2');
    assert.equal(layout.unified, roots.cgroup);
    assert.equal((await createCgroupReader(roots)).version, 'v2');
  });

  test("this machine is read with its mode's reader (v1 controllers mounted: v1; pure v2: v2)", async () => {
    const reader = await createCgroupReader({ proc: '/proc', sys: '/sys', cgroup: '/sys/fs/cgroup' });
    assert.equal(reader.version, detectHostCgroups().version === 'v2' ? 'v2' : 'v1');
  });

  test('a proc root without mountinfo is a FailedPrecondition naming the file', async () => {
    await assert.rejects(
      // No cgroup root either: on a pure v2 host /sys/fs/cgroup/cgroup.controllers would answer v2.
      detectCgroups({ proc: '/nonexistent-proc', sys: '/sys', cgroup: '/nonexistent-cgroup' }),
      (err: Error) => err.message.includes('/nonexistent-proc/self/mountinfo'),
    );
  });
});

describe('working set', () => {
  test('usage minus inactive file, floored at 0, usage when inactive_file is unknown', () => {
    assert.equal(workingSet(1000, 300), 700);
    assert.equal(workingSet(1000, 1000), 0);
    assert.equal(workingSet(100, 5000), 0);
    assert.equal(workingSet(1000, undefined), 1000);
    assert.equal(workingSet(undefined, 10), undefined);
  });

  test('v1 uses total_inactive_file, v2 inactive_file; both floor at 0 for the worker', async () => {
    const v1 = await (await createCgroupReader(fixtureRoots('v1'))).memory(WORKER);
    const v2 = await (await createCgroupReader(fixtureRoots('v2'))).memory(WORKER);
    assert.equal(v1.stats.workingSet, 0);
    assert.equal(v2.stats.workingSet, 0);
    const web = await (await createCgroupReader(fixtureRoots('v1'))).memory(WEB);
    assert.equal(web.stats.workingSet, 157290496 - 31457280);
  });
});

test('cpu.weight converts to shares like cAdvisor (inverse of runc)', () => {
  assert.equal(weightToShares(1), 2);
  assert.equal(weightToShares(10000), 262144);
  assert.equal(weightToShares(100), 2597);
  assert.equal(weightToShares(39), 998);
  assert.equal(weightToShares(0), 0);
});

// One conformance suite for both readers: the v1 and v2 fixtures describe the same containers.
for (const version of ['v1', 'v2'] as const) {
  describe(`${version} reader conformance`, () => {
    const reader = async () => {
      const r = await createCgroupReader(fixtureRoots(version));
      assert.ok(version === 'v1' ? r instanceof CgroupV1Reader : r instanceof CgroupV2Reader);
      return r;
    };

    test('cpu', async () => {
      const { stats } = await (await reader()).cpu(WEB);
      assert.ok(Math.abs((stats.usageSeconds ?? 0) - 48.2119) < 0.001);
      assert.ok(Math.abs((stats.userSeconds ?? 0) - 31.2) < 0.01);
      assert.ok(Math.abs((stats.systemSeconds ?? 0) - (version === 'v1' ? 15.44 : 17.011478)) < 0.001);
      assert.equal(stats.nrPeriods, 2360);
      assert.equal(stats.nrThrottled, 117);
      assert.ok(Math.abs((stats.throttledSeconds ?? 0) - 5.388) < 0.001);
    });

    test('memory', async () => {
      const { stats } = await (await reader()).memory(WEB);
      assert.equal(stats.usage, 157290496);
      assert.equal(stats.rss, 104857600);
      assert.equal(stats.cache, 52428800);
      assert.equal(stats.mappedFile, 8388608);
      assert.equal(stats.swap, 4096);
      assert.equal(stats.failcnt, 3);
      assert.equal(stats.oomKills, 1);
      assert.equal(stats.maxUsage, version === 'v1' ? 201326592 : undefined);
    });

    test('blkio per device and direction', async () => {
      const { stats } = await (await reader()).blkio(WEB);
      assert.deepEqual(stats, [
        { device: '8:0', readBytes: 3481600, writeBytes: 9850880, reads: 212, writes: 1044 },
        { device: '253:0', readBytes: 3481600, writeBytes: 9850880, reads: 212, writes: 1044 },
      ]);
      assert.deepEqual((await (await reader()).blkio(WORKER)).stats, []);
    });

    test('pids and spec; unlimited reads as 0 or absent', async () => {
      const r = await reader();
      assert.deepEqual((await r.pids(WEB)).stats, { current: 7, max: 512 });
      assert.deepEqual((await r.pids(WORKER)).stats, { current: 1, max: 0 });
      const web = (await r.spec(WEB)).stats;
      assert.equal(web.memoryLimit, 268435456);
      assert.equal(web.cpuQuota, 50000);
      assert.equal(web.cpuPeriod, 100000);
      const worker = (await r.spec(WORKER)).stats;
      assert.equal(worker.memoryLimit, 0);
      assert.equal(worker.cpuQuota, undefined);
      assert.deepEqual(await r.procs(WEB), [4242, 4250, 4251]);
    });

    test('a cgroup that does not exist is NotFound, not an empty result', async () => {
      const r = await reader();
      const gone = `/berth/${GONE_ID}`;
      const reads: (() => Promise<unknown>)[] = [
        () => r.cpu(gone),
        () => r.memory(gone),
        () => r.blkio(gone),
        () => r.pids(gone),
        () => r.spec(gone),
        () => r.procs(gone),
      ];
      for (const read of reads) await assert.rejects(read(), (err) => isNotFound(err));
    });
  });
}

test('v2: a file the kernel does not provide is reported missing, the rest still read', async () => {
  const r = await createCgroupReader(fixtureRoots('v2'));
  const { stats, missing } = await r.memory(WORKER);
  assert.deepEqual(missing, ['memory.swap.current']);
  assert.equal(stats.swap, undefined);
  assert.equal(stats.usage, 9437184);
});
