import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFailedPrecondition, isNotFound } from '../../../runtime/base/errors.js';
import {
  type CgroupInfo,
  cgroupFile,
  chooseOciRuntime,
  detectCgroups,
  oomCounterFile,
} from '../../../runtime/cgroups/detect.js';
import { parseMountinfo } from '../../../runtime/cgroups/mountinfo.js';
import { HostProc, parseProcCgroup } from '../../../runtime/cgroups/proc.js';
import { HOST_ROOTS, rerootCgroupMount } from '../../../runtime/cgroups/roots.js';

const fixtures = join(import.meta.dirname, '../../fixtures/cgroups');
/** The `proc` root of a fixture tree (test/fixtures/cgroups/<layout>/proc). */
const procOf = (layout: string) => join(fixtures, layout, 'proc');
const tmpRoots: string[] = [];
async function tmpProc(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cg-'));
  tmpRoots.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  return dir;
}

after(async () => {
  for (const d of tmpRoots) await rm(d, { recursive: true, force: true });
});

describe('cgroup detection', () => {
  it('classifies a hybrid host and rebases mount points onto the configured root', () => {
    const info = detectCgroups({ cgroup: '/fake/cg', proc: procOf('hybrid') });
    assert.equal(info.version, 'hybrid');
    assert.equal(info.unifiedMount, '/fake/cg/unified');
    assert.equal(info.v1Controllers.memory, '/fake/cg/memory');
    assert.equal(info.v1Controllers.cpu, '/fake/cg/cpu,cpuacct');
    assert.equal(info.v1Controllers.cpuacct, '/fake/cg/cpu,cpuacct');
    assert.equal(info.v1Controllers['name=systemd'], '/fake/cg/systemd');
    assert.equal(info.v1Controllers.pids, '/fake/cg/pids');
  });

  it('classifies a pure v1 host', () => {
    const info = detectCgroups({ proc: procOf('v1') });
    assert.equal(info.version, 'v1');
    assert.equal(info.unifiedMount, undefined);
    assert.equal(info.v1Controllers.net_prio, '/sys/fs/cgroup/net_cls,net_prio');
    assert.equal(info.v1Controllers.memory, '/sys/fs/cgroup/memory');
  });

  it('classifies a pure v2 host', () => {
    const cgroup = join(fixtures, 'v2/sys/fs/cgroup');
    const info = detectCgroups({ cgroup, proc: procOf('v2') });
    assert.deepEqual(info, { version: 'v2', unifiedMount: cgroup, v1Controllers: {} });
  });

  it('falls back to cgroup.controllers at the root without a mount table', () => {
    const info = detectCgroups({ cgroup: join(fixtures, 'v2/sys/fs/cgroup'), proc: '/nonexistent-proc' });
    assert.equal(info.version, 'v2');
  });

  it('fails clearly where no cgroup hierarchy is mounted', async () => {
    const dir = await tmpProc({ 'self/mountinfo': '22 27 0:21 / /proc rw - proc proc rw\n' });
    assert.throws(
      () => detectCgroups({ cgroup: '/nonexistent', proc: dir }),
      (e: unknown) => isFailedPrecondition(e) && /no cgroup v1 controller or cgroup2 mount/.test(String(e)),
    );
  });

  it('without a mount table or a v2 root, the error names the file and why it could not be read', () => {
    assert.throws(
      () => detectCgroups({ cgroup: '/nonexistent', proc: '/nonexistent-proc' }),
      (e: unknown) =>
        isFailedPrecondition(e) &&
        /cannot read \/nonexistent-proc\/self\/mountinfo: .*ENOENT/.test(String(e)),
    );
  });

  it("the host view reads PID 1's mount table before the agent's own (observe mode in a container)", async () => {
    const hybrid = await readFile(join(procOf('hybrid'), 'self/mountinfo'), 'utf8');
    const v2 = await readFile(join(procOf('v2'), 'self/mountinfo'), 'utf8');
    const proc = await tmpProc({ '1/mountinfo': hybrid, 'self/mountinfo': v2 });
    assert.equal(detectCgroups({ proc, cgroup: '/host/sys/fs/cgroup' }, { view: 'host' }).version, 'hybrid');
    assert.equal(detectCgroups({ proc, cgroup: '/host/sys/fs/cgroup' }).version, 'v2');
    // No PID 1 under the root: the host view falls back to self.
    const selfOnly = await tmpProc({ 'self/mountinfo': v2 });
    assert.equal(
      detectCgroups({ proc: selfOnly, cgroup: '/host/sys/fs/cgroup' }, { view: 'host' }).version,
      'v2',
    );
  });

  it('a mount point outside /sys/fs/cgroup stays under a non-host root (a fixture never reads the host)', () => {
    assert.equal(rerootCgroupMount({ cgroup: '/fx/cg' }, '/cgroup/memory'), '/fx/cg/cgroup/memory');
    assert.equal(rerootCgroupMount(HOST_ROOTS, '/cgroup/memory'), '/cgroup/memory');
    assert.equal(rerootCgroupMount({ cgroup: '/fx/cg' }, '/sys/fs/cgroup'), '/fx/cg');
  });

  it("detects this machine's mode from the real /proc, whichever it is", () => {
    const info = detectCgroups();
    assert.ok(['v1', 'v2', 'hybrid'].includes(info.version));
    if (info.version === 'v2') assert.equal(info.unifiedMount, '/sys/fs/cgroup');
    else assert.ok(info.v1Controllers.memory);
    if (info.version === 'hybrid') assert.ok(info.unifiedMount?.startsWith('/sys/fs/cgroup/'));
  });
});

describe('mountinfo and /proc/<pid>/cgroup parsers', () => {
  it('parses every field berth uses and unescapes octal escapes', () => {
    const [m, bind] = parseMountinfo(
      [
        '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory',
        '99 27 8:1 /srv/a\\040b /mnt/with\\040space rw - ext4 /dev/sda1 rw',
        'garbage without separator',
        '',
      ].join('\n'),
    );
    assert.deepEqual(m, {
      root: '/',
      mountPoint: '/sys/fs/cgroup/memory',
      fsType: 'cgroup',
      source: 'cgroup',
      superOptions: ['rw', 'memory'],
    });
    assert.equal(bind?.mountPoint, '/mnt/with space');
    assert.equal(bind?.root, '/srv/a b');
  });

  it('parses v1, hybrid and v2 cgroup membership', async () => {
    const v1 = parseProcCgroup(await readFile(join(procOf('v1'), '4242/cgroup'), 'utf8'));
    assert.deepEqual(
      v1.find((l) => l.controllers.includes('cpuacct')),
      {
        hierarchy: '5',
        controllers: ['cpu', 'cpuacct'],
        path: '/berth/abc',
      },
    );
    const v2 = parseProcCgroup(await readFile(join(procOf('v2'), '4242/cgroup'), 'utf8'));
    assert.deepEqual(v2, [{ hierarchy: '0', controllers: [], path: '/berth/abc' }]);
  });
});

describe('HostProc', () => {
  it('reads a live process under its root: start time, cmdline, cgroups', async () => {
    const proc = new HostProc(procOf('hybrid'));
    assert.equal(proc.startTime(4242), '8675309');
    assert.deepEqual(await proc.cmdline(4242), ['sleep', '300', '']);
    assert.equal((await proc.cgroups(4242))?.length, 9);
  });

  it('answers undefined for a process that is gone, and no start time for a zombie', async () => {
    const proc = new HostProc(procOf('v2'));
    assert.equal(proc.startTime(999999), undefined);
    assert.equal(await proc.cmdline(999999), undefined);
    assert.equal(await proc.cgroups(999999), undefined);
    // The name holds ") ": the state is read after the last parenthesis.
    assert.equal(proc.startTime(4243), undefined);
  });

  it("reads the agent's own status and limits; undefined without them", () => {
    assert.match(new HostProc(procOf('v1')).selfFile('status') ?? '', /CapBnd:\t00000000a80425fb/);
    assert.match(new HostProc(procOf('v1')).selfFile('limits') ?? '', /Max open files\s+1024\s+524288/);
    assert.equal(new HostProc(procOf('v2')).selfFile('limits'), undefined);
  });

  it('reads this process from the real /proc', async () => {
    const proc = new HostProc();
    assert.ok(proc.startTime(process.pid));
    assert.ok((await proc.cmdline(process.pid))?.some((a) => a.includes('node')));
  });
});

describe('OOM counter file', () => {
  for (const layout of ['v1', 'hybrid', 'v2'] as const) {
    it(`${layout}: the memory hierarchy's oom_control, or the unified memory.events`, async () => {
      const cgroup = join(fixtures, layout, 'sys/fs/cgroup');
      const info = detectCgroups({ proc: procOf(layout), cgroup });
      const cgroups = (await new HostProc(procOf(layout)).cgroups(4242)) ?? [];
      assert.equal(
        oomCounterFile(info, cgroups),
        layout === 'v2'
          ? join(cgroup, 'berth/abc/memory.events')
          : join(cgroup, 'memory/berth/abc/memory.oom_control'),
      );
    });
  }

  it('none when the process has no memory or unified hierarchy', () => {
    const info: CgroupInfo = { version: 'v1', v1Controllers: { pids: '/sys/fs/cgroup/pids' } };
    assert.equal(oomCounterFile(info, parseProcCgroup('3:pids:/x\n')), undefined);
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
