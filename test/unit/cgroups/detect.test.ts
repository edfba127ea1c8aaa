import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFailedPrecondition, isNotFound } from '../../../runtime/base/errors.js';
import {
  type CgroupInfo,
  cgroupFile,
  chooseOciRuntime,
  detectCgroups,
} from '../../../runtime/cgroups/detect.js';

const fixtures = join(import.meta.dirname, '../../fixtures/cgroups');
/** Each fixture dir holds `mountinfo` as `<procRoot>/self/mountinfo` would; a tiny proc tree is made per test run. */
const tmpRoots: string[] = [];
async function procRootFor(flavour: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `berth-cg-${flavour}-`));
  tmpRoots.push(dir);
  await mkdir(join(dir, 'self'));
  await copyFile(join(fixtures, flavour, 'mountinfo'), join(dir, 'self', 'mountinfo'));
  return dir;
}

after(async () => {
  for (const d of tmpRoots) await rm(d, { recursive: true, force: true });
});

describe('cgroup detection', () => {
  it('classifies a hybrid host and rebases mount points onto the configured root', async () => {
    const root = '/fake/cg';
    const info = detectCgroups({ cgroupRoot: root, procRoot: await procRootFor('hybrid') });
    assert.equal(info.version, 'hybrid');
    assert.equal(info.unifiedMount, '/fake/cg/unified');
    assert.equal(info.v1Controllers.memory, '/fake/cg/memory');
    assert.equal(info.v1Controllers.cpu, '/fake/cg/cpu,cpuacct');
    assert.equal(info.v1Controllers.cpuacct, '/fake/cg/cpu,cpuacct');
    assert.equal(info.v1Controllers['name=systemd'], '/fake/cg/systemd');
    assert.equal(info.v1Controllers.pids, '/fake/cg/pids');
  });

  it('classifies a pure v1 host', async () => {
    const info = detectCgroups({ procRoot: await procRootFor('v1') });
    assert.equal(info.version, 'v1');
    assert.equal(info.unifiedMount, undefined);
    assert.equal(info.v1Controllers.net_prio, '/sys/fs/cgroup/net_cls,net_prio');
    assert.equal(info.v1Controllers.memory, '/sys/fs/cgroup/memory');
  });

  it('classifies a pure v2 host', async () => {
    const info = detectCgroups({ cgroupRoot: join(fixtures, 'v2'), procRoot: await procRootFor('v2') });
    assert.deepEqual(info, { version: 'v2', unifiedMount: join(fixtures, 'v2'), v1Controllers: {} });
  });

  it('falls back to cgroup.controllers at the root without a mount table', async () => {
    const info = detectCgroups({ cgroupRoot: join(fixtures, 'v2'), procRoot: '/nonexistent-proc' });
    assert.equal(info.version, 'v2');
  });

  it('fails clearly where no cgroup hierarchy is mounted', async () => {
    const dir = await procRootFor('v2');
    await writeFile(join(dir, 'self', 'mountinfo'), '22 27 0:21 / /proc rw - proc proc rw\n');
    assert.throws(
      () => detectCgroups({ cgroupRoot: '/nonexistent', procRoot: dir }),
      (e: unknown) => isFailedPrecondition(e) && /no cgroup v1 controller or cgroup2 mount/.test(String(e)),
    );
  });

  it('detects this machine (hybrid per the brief) from the real /proc', () => {
    const info = detectCgroups();
    assert.ok(['v1', 'v2', 'hybrid'].includes(info.version));
    if (info.version !== 'v2') assert.ok(info.v1Controllers.memory);
  });
});

describe('OCI runtime choice', () => {
  const v2: CgroupInfo = { version: 'v2', unifiedMount: '/sys/fs/cgroup', v1Controllers: {} };
  const hybrid: CgroupInfo = {
    version: 'hybrid',
    unifiedMount: '/sys/fs/cgroup/unified',
    v1Controllers: { memory: '/sys/fs/cgroup/memory' },
  };
  const installed = () => true;
  const missing = () => false;

  it('auto picks crun only on pure v2 when installed', () => {
    assert.equal(chooseOciRuntime(v2, 'auto', installed), 'crun');
    assert.equal(chooseOciRuntime(v2, 'auto', missing), 'runc');
    assert.equal(chooseOciRuntime(hybrid, 'auto', installed), 'runc');
    assert.equal(chooseOciRuntime({ version: 'v1', v1Controllers: {} }, 'auto', installed), 'runc');
  });

  it('honours an explicit runc and refuses an explicit crun that cannot work', () => {
    assert.equal(chooseOciRuntime(v2, 'runc', installed), 'runc');
    assert.equal(chooseOciRuntime(v2, 'crun', installed), 'crun');
    assert.throws(
      () => chooseOciRuntime(hybrid, 'crun', installed),
      (e: unknown) =>
        isFailedPrecondition(e) && /crun needs a pure cgroup v2 host, this one is hybrid/.test(String(e)),
    );
    assert.throws(() => chooseOciRuntime(v2, 'crun', missing), /crun is not installed/);
  });
});

describe('cgroupFile', () => {
  it('resolves per-controller paths on v1/hybrid and unified paths on v2', () => {
    const hybrid: CgroupInfo = {
      version: 'hybrid',
      unifiedMount: '/sys/fs/cgroup/unified',
      v1Controllers: { memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
    };
    assert.equal(
      cgroupFile(hybrid, 'memory', '/berth/abc', 'memory.limit_in_bytes'),
      '/sys/fs/cgroup/memory/berth/abc/memory.limit_in_bytes',
    );
    assert.equal(
      cgroupFile(hybrid, 'pids', '/berth/abc', 'pids.max'),
      '/sys/fs/cgroup/pids/berth/abc/pids.max',
    );
    const v2: CgroupInfo = { version: 'v2', unifiedMount: '/sys/fs/cgroup', v1Controllers: {} };
    assert.equal(cgroupFile(v2, 'memory', '/berth/abc', 'memory.max'), '/sys/fs/cgroup/berth/abc/memory.max');
    assert.throws(
      () => cgroupFile(hybrid, 'hugetlb', '/berth/abc', 'x'),
      (e: unknown) => isNotFound(e),
    );
  });
});
