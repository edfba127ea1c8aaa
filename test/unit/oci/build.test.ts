import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, isFailedPrecondition } from '../../../runtime/base/errors.js';
import type { CgroupInfo } from '../../../runtime/cgroups/detect.js';
import type { ResolvedImage } from '../../../runtime/image/types.js';
import { OciSpecBuilder, ownNofileHardLimit } from '../../../runtime/oci/builder.js';
import { ALL_CAPS, boundingCapsFromStatus, DEFAULT_CAPS } from '../../../runtime/oci/capabilities.js';
import type { SpecFacts } from '../../../runtime/oci/types.js';

type Json = Record<string, unknown>;
const hybrid: CgroupInfo = { version: 'hybrid', unifiedMount: '/sys/fs/cgroup/unified', v1Controllers: {} };
const v2: CgroupInfo = { version: 'v2', unifiedMount: '/sys/fs/cgroup', v1Controllers: {} };
const img: ResolvedImage = {
  id: 'sha256:abc',
  ref: 'busybox:latest',
  name: 'busybox',
  tag: 'latest',
  config: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin'] },
  layerDirs: [],
};

let dir = '';
let rootfs = '';
let builder: OciSpecBuilder;

function facts(over: Partial<SpecFacts> = {}): SpecFacts {
  return {
    id: 'c0ffee',
    rootfs,
    hostname: 'c0ffee',
    networkMode: 'bridge',
    netnsPath: '/run/netns/berth-c0ffee',
    cgroupPath: '/berth/c0ffee',
    ...over,
  };
}

async function spec(req: Json, f: Partial<SpecFacts> = {}, b = builder) {
  const cfg = await b.validate({ image: 'busybox', ...req }, img);
  const s = await b.build(cfg, facts({ networkMode: cfg.network, ...f }));
  // What runc reads must survive JSON as is.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  const proc = s.process as Json;
  const linux = s.linux as Json;
  return { s, proc, linux, caps: (proc.capabilities as Record<string, string[]>) ?? {} };
}

function mount(s: Json, dest: string): Json | undefined {
  return (s.mounts as Json[]).find((m) => m.destination === dest);
}

function optionsOf(m: Json | undefined): string[] {
  return (m?.options as string[] | undefined) ?? [];
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-oci-build-'));
  rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(
    join(rootfs, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1001:App:/home/app:/bin/sh\n',
  );
  await writeFile(
    join(rootfs, 'etc', 'group'),
    'root:x:0:\nappgrp:x:1001:\naudio:x:29:app\nvideo:x:44:app,other\nstaff:x:50:\n',
  );
  builder = new OciSpecBuilder({
    cgroups: hybrid,
    volumesRoot: join(dir, 'volumes'),
    stateDir: join(dir, 'state'),
    seccomp: { arch: 'x86_64' },
    hostCpus: 2,
    hostCaps: [...ALL_CAPS],
  });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('build: process', () => {
  it('writes OCI 1.0.2 with args, env defaults, cwd and the root', async () => {
    const { s, proc } = await spec({ cmd: ['echo', 'hi'], env: ['A=1'], workdir: '/w', readOnly: true });
    assert.equal(s.ociVersion, '1.0.2');
    assert.deepEqual(proc.args, ['echo', 'hi']);
    assert.deepEqual(proc.env, ['PATH=/usr/bin:/bin', 'A=1', 'HOSTNAME=c0ffee', 'HOME=/root']);
    assert.equal(proc.cwd, '/w');
    assert.deepEqual(s.root, { path: rootfs, readonly: true });
    assert.equal(s.hostname, 'c0ffee');
    assert.equal(proc.noNewPrivileges, true);
    assert.equal(proc.oomScoreAdj, 0);
    assert.equal(proc.terminal, false);
    assert.equal(((await spec({})).s.root as Json).readonly, false);
  });
  it('defaults PATH when neither image nor request sets it', async () => {
    const b = new OciSpecBuilder({ cgroups: hybrid, volumesRoot: join(dir, 'volumes'), hostCpus: 2 });
    const cfg = await b.validate({ image: 'busybox' }, { ...img, config: { Cmd: ['sh'] } });
    const s = await b.build(cfg, facts());
    assert.equal(
      ((s.process as Json).env as string[])[0],
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
  });
  it('turns no-new-privileges off only when asked', async () => {
    assert.equal((await spec({ securityOpt: ['no-new-privileges:false'] })).proc.noNewPrivileges, false);
  });
});

describe('build: user lookup from the rootfs', () => {
  it('resolves names, groups and supplementary groups from /etc/passwd and /etc/group', async () => {
    assert.deepEqual((await spec({ user: 'app' })).proc.user, {
      uid: 1000,
      gid: 1001,
      additionalGids: [29, 44],
    });
    assert.deepEqual((await spec({ user: 'app:staff' })).proc.user, {
      uid: 1000,
      gid: 50,
      additionalGids: [29, 44],
    });
    assert.deepEqual((await spec({ user: 'nobody' })).proc.user, { uid: 65534, gid: 65534 });
    assert.deepEqual((await spec({})).proc.user, { uid: 0, gid: 0 });
    assert.ok(((await spec({ user: 'app' })).proc.env as string[]).includes('HOME=/home/app'));
  });
  it('accepts numeric ids that are not in passwd', async () => {
    assert.deepEqual((await spec({ user: '4242' })).proc.user, { uid: 4242, gid: 0 });
    assert.deepEqual((await spec({ user: '4242:77' })).proc.user, { uid: 4242, gid: 77 });
    assert.deepEqual((await spec({ user: '1000' })).proc.user, {
      uid: 1000,
      gid: 1001,
      additionalGids: [29, 44],
    });
  });
  it('fails a start whose user or group the image does not have', async () => {
    await assert.rejects(
      spec({ user: 'ghost' }),
      (e: unknown) => isFailedPrecondition(e) && /user: no user "ghost"/.test(String(e)),
    );
    await assert.rejects(spec({ user: 'app:ghosts' }), /user: no group "ghosts"/);
  });
  it('follows an absolute /etc/passwd symlink inside the rootfs, not on the host', async () => {
    const r2 = join(dir, 'rootfs2');
    await mkdir(join(r2, 'etc'), { recursive: true });
    await mkdir(join(r2, 'data'), { recursive: true });
    await writeFile(join(r2, 'data', 'passwd'), 'svc:x:777:778::/srv:/bin/sh\n');
    await symlink('/data/passwd', join(r2, 'etc', 'passwd'));
    // The host's /etc/passwd has root but no svc; a link followed on the host would fail this.
    assert.deepEqual((await spec({ user: 'svc' }, { rootfs: r2 })).proc.user, { uid: 777, gid: 778 });
    await symlink('/etc/shadow', join(r2, 'etc', 'group'));
    assert.deepEqual((await spec({ user: 'svc:0' }, { rootfs: r2 })).proc.user, { uid: 777, gid: 0 });
  });
});

describe('build: capabilities', () => {
  it('uses Docker defaults in bounding/effective/permitted only', async () => {
    const { caps } = await spec({});
    assert.deepEqual(new Set(caps.bounding), new Set(DEFAULT_CAPS));
    assert.deepEqual(caps.effective, caps.bounding);
    assert.deepEqual(caps.permitted, caps.bounding);
    assert.equal(caps.inheritable, undefined);
    assert.equal(caps.ambient, undefined);
  });
  it('applies add, drop and ALL', async () => {
    const a = (await spec({ capAdd: ['SYS_ADMIN'], capDrop: ['NET_RAW'] })).caps.bounding ?? [];
    assert.ok(a.includes('CAP_SYS_ADMIN') && !a.includes('CAP_NET_RAW'));
    assert.deepEqual((await spec({ capDrop: ['ALL'] })).caps.bounding, []);
    assert.equal((await spec({ capAdd: ['ALL'] })).caps.bounding?.length, 41);
    assert.deepEqual((await spec({ capDrop: ['all'], capAdd: ['chown'] })).caps.effective, ['CAP_CHOWN']);
  });
  it('grants at most what the agent itself holds; an explicit add beyond that fails the start', async () => {
    // A confined agent (here without CAP_SYS_RESOURCE, bit 24) as /proc/self/status reports it.
    const hostCaps = boundingCapsFromStatus('Name:\tnode\nCapBnd:\t000001fffeffffff\n') ?? [];
    assert.equal(hostCaps.length, 40);
    assert.ok(!hostCaps.includes('CAP_SYS_RESOURCE'));
    const b = new OciSpecBuilder({
      cgroups: hybrid,
      volumesRoot: join(dir, 'volumes'),
      hostCpus: 2,
      hostCaps,
    });
    const priv = await spec({ privileged: true }, {}, b);
    assert.deepEqual(priv.caps.bounding, hostCaps);
    assert.equal((await spec({ capAdd: ['ALL'] }, {}, b)).caps.bounding?.length, 40);
    await assert.rejects(
      spec({ capAdd: ['SYS_RESOURCE'] }, {}, b),
      (e: unknown) => isFailedPrecondition(e) && /capAdd: CAP_SYS_RESOURCE cannot be granted/.test(String(e)),
    );
  });
});

describe('build: seccomp', () => {
  it('carries the default profile: errno EPERM by default, common syscalls allowed, dangerous ones not', async () => {
    const { linux } = await spec({});
    const sc = linux.seccomp as Json;
    assert.equal(sc.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(sc.defaultErrnoRet, 1);
    assert.deepEqual(sc.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const rules = sc.syscalls as Array<{
      names: string[];
      action: string;
      args?: unknown[];
      errnoRet?: number;
    }>;
    const allowed = new Set(
      rules.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
    );
    for (const n of ['read', 'write', 'execve', 'openat', 'futex', 'epoll_wait', 'arch_prctl', 'chroot'])
      assert.ok(allowed.has(n), n);
    for (const n of [
      'mount',
      'unshare',
      'kexec_load',
      'init_module',
      'reboot',
      'setns',
      'bpf',
      'io_uring_setup',
      'kcmp',
    ])
      assert.ok(!allowed.has(n), `${n} must not be allowed`);
    // clone only without namespace flags; clone3 answers ENOSYS so libc falls back to clone.
    assert.ok(rules.some((r) => r.names.includes('clone') && r.args?.length === 1));
    assert.ok(rules.some((r) => r.names.includes('clone3') && r.errnoRet === 38));
    assert.ok(rules.some((r) => r.names.includes('socket') && r.args?.length === 1));
  });
  it('follows capabilities: SYS_ADMIN opens mount and clone, SYS_PTRACE opens kcmp', async () => {
    const rules = ((await spec({ capAdd: ['SYS_ADMIN', 'SYS_PTRACE'] })).linux.seccomp as Json)
      .syscalls as Array<{
      names: string[];
      args?: unknown[];
      action: string;
    }>;
    const allowed = new Set(
      rules.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
    );
    for (const n of ['mount', 'clone', 'clone3', 'unshare', 'ptrace', 'process_vm_readv'])
      assert.ok(allowed.has(n), n);
    assert.ok(!rules.some((r) => r.names.includes('clone3') && r.action !== 'SCMP_ACT_ALLOW'));
  });
  it('targets aarch64 when configured', async () => {
    const b = new OciSpecBuilder({
      cgroups: hybrid,
      volumesRoot: join(dir, 'volumes'),
      seccomp: { arch: 'aarch64' },
      hostCpus: 2,
      hostCaps: [...ALL_CAPS],
    });
    const sc = (await spec({}, {}, b)).linux.seccomp as Json;
    assert.deepEqual(sc.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const names = (sc.syscalls as Array<{ names: string[] }>).flatMap((r) => r.names);
    assert.ok(names.includes('set_tls') && !names.includes('arch_prctl'));
  });
  it('has none when unconfined or privileged, and converts a custom Docker-format profile', async () => {
    assert.equal((await spec({ securityOpt: ['seccomp=unconfined'] })).linux.seccomp, undefined);
    assert.equal((await spec({ privileged: true })).linux.seccomp, undefined);
    const p = join(dir, 'custom.json');
    await writeFile(
      p,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
        syscalls: [
          { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        ],
      }),
    );
    const sc = (await spec({ securityOpt: [`seccomp=${p}`] })).linux.seccomp as Json;
    assert.deepEqual(sc, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
  });
});

describe('build: privileged', () => {
  it('grants all caps, all devices, no masked paths, writable sysfs', async () => {
    const { caps, linux, s } = await spec({ privileged: true });
    assert.equal(caps.bounding?.length, 41);
    assert.deepEqual(linux.maskedPaths, []);
    assert.deepEqual(linux.readonlyPaths, []);
    assert.deepEqual((linux.resources as Json).devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(optionsOf(mount(s, '/sys')).includes('rw'));
  });
  it('masks like Docker otherwise and allows only the default devices', async () => {
    const { linux, s } = await spec({});
    assert.ok((linux.maskedPaths as string[]).includes('/proc/kcore'));
    assert.ok((linux.readonlyPaths as string[]).includes('/proc/sys'));
    const devices = (linux.resources as Json).devices as Json[];
    assert.deepEqual(devices[0], { allow: false, access: 'rwm' });
    assert.ok(devices.some((d) => d.major === 1 && d.minor === 3 && d.allow === true));
    assert.ok(optionsOf(mount(s, '/sys')).includes('ro'));
    assert.ok(optionsOf(mount(s, '/sys/fs/cgroup')).includes('ro'));
  });
});

describe('build: namespaces per network mode', () => {
  const types = (l: Json) => (l.namespaces as Json[]).map((n) => n.type);
  it('bridge joins the attached netns', async () => {
    const { linux } = await spec({ network: 'bridge' });
    assert.deepEqual(types(linux), ['pid', 'ipc', 'uts', 'mount', 'network']);
    assert.deepEqual((linux.namespaces as Json[])[4], { type: 'network', path: '/run/netns/berth-c0ffee' });
    await assert.rejects(
      spec({ network: 'bridge' }, { netnsPath: undefined }),
      /bridge mode needs a network namespace/,
    );
  });
  it('none gets a fresh netns, host none at all', async () => {
    const none = await spec({ network: 'none' }, { netnsPath: undefined });
    assert.deepEqual((none.linux.namespaces as Json[])[4], { type: 'network' });
    const host = await spec({ network: 'host' }, { netnsPath: undefined });
    assert.deepEqual(types(host.linux), ['pid', 'ipc', 'uts', 'mount']);
  });
  it('adds a cgroup namespace on pure v2 only', async () => {
    const b = new OciSpecBuilder({ cgroups: v2, volumesRoot: join(dir, 'volumes'), hostCpus: 2 });
    assert.ok(types((await spec({}, {}, b)).linux).includes('cgroup'));
    assert.ok(!types((await spec({})).linux).includes('cgroup'));
  });
});

describe('build: resources and limits', () => {
  it('writes memory, swap, cpu quota, cpuset and pids; cgroupsPath from facts', async () => {
    const { linux } = await spec({
      memory: '64m',
      memorySwap: '128m',
      cpus: '0.5',
      cpusetCpus: '0',
      pidsLimit: 50,
    });
    assert.equal(linux.cgroupsPath, '/berth/c0ffee');
    const r = linux.resources as Json;
    assert.deepEqual(r.memory, { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 });
    assert.deepEqual(r.cpu, { quota: 50_000, period: 100_000, cpus: '0' });
    assert.deepEqual(r.pids, { limit: 50 });
    const none = (await spec({})).linux.resources as Json;
    assert.equal(none.memory, undefined);
    assert.equal(none.cpu, undefined);
    assert.equal(none.pids, undefined);
  });
  it('defaults RLIMIT_NOFILE like Docker, capped at what the agent may set, and lets ulimits override it', async () => {
    const b = new OciSpecBuilder({
      cgroups: hybrid,
      volumesRoot: join(dir, 'volumes'),
      hostCpus: 2,
      defaultNofile: 1048576,
    });
    assert.deepEqual((await spec({}, {}, b)).proc.rlimits, [
      { type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 },
    ]);
    assert.equal(
      ownNofileHardLimit(
        'Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n',
      ),
      20000,
    );
    assert.equal(
      ownNofileHardLimit('Max open files            1024                 unlimited            files\n'),
      undefined,
    );
    const own = ownNofileHardLimit() ?? 1048576;
    const dflt = (await spec({})).proc.rlimits as Json[];
    assert.equal(dflt[0]?.hard, Math.min(own, 1048576));
    assert.deepEqual((await spec({ ulimits: ['nofile=1024:2048', 'core=0'] })).proc.rlimits, [
      { type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 },
      { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
    ]);
  });
  it('cgroupPath is /berth/<id>', () => {
    assert.equal(builder.cgroupPath('abc'), '/berth/abc');
  });
});

describe('build: mounts', () => {
  it('has the default set, parents before children', async () => {
    const { s } = await spec({});
    const dests = (s.mounts as Json[]).map((m) => m.destination);
    for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'])
      assert.ok(dests.includes(d), d);
    assert.ok(dests.indexOf('/dev') < dests.indexOf('/dev/pts'));
    assert.ok(dests.indexOf('/sys') < dests.indexOf('/sys/fs/cgroup'));
  });
  it('binds host paths, named volumes and tmpfs; creates volume data dirs and missing bind sources', async () => {
    const src = join(dir, 'host-data');
    const { s } = await spec({
      volumes: [`${src}:/data:ro`, 'cache:/cache'],
      tmpfs: ['/run:size=1m', '/dev/shm:size=128m'],
    });
    assert.deepEqual(mount(s, '/data'), {
      destination: '/data',
      type: 'bind',
      source: src,
      options: ['rbind', 'rprivate', 'ro'],
    });
    const vol = join(dir, 'volumes', 'cache', '_data');
    assert.deepEqual(mount(s, '/cache'), {
      destination: '/cache',
      type: 'bind',
      source: vol,
      options: ['rbind', 'rprivate', 'rw'],
    });
    assert.ok(existsSync(vol));
    assert.ok(existsSync(src));
    assert.deepEqual(mount(s, '/run'), {
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'size=1m'],
    });
    // A user tmpfs on /dev/shm replaces the default one rather than stacking on it.
    const shm = (s.mounts as Json[]).filter((m) => m.destination === '/dev/shm');
    assert.equal(shm.length, 1);
    assert.ok(optionsOf(shm[0]).includes('size=128m'));
  });
  it('binds /etc/hosts, /etc/resolv.conf from facts and writes /etc/hostname', async () => {
    const { s } = await spec(
      {},
      {
        hostsPath: '/run/berth/c0ffee/hosts',
        resolvConfPath: '/run/berth/c0ffee/resolv.conf',
        hostname: 'web',
      },
    );
    assert.equal(mount(s, '/etc/hosts')?.source, '/run/berth/c0ffee/hosts');
    assert.equal(mount(s, '/etc/resolv.conf')?.source, '/run/berth/c0ffee/resolv.conf');
    const hn = mount(s, '/etc/hostname')?.source as string;
    assert.equal(await readFile(hn, 'utf8'), 'web\n');
    const bare = await spec({});
    assert.equal(mount(bare.s, '/etc/hosts'), undefined);
    await builder.release('c0ffee');
    assert.equal(existsSync(hn), false);
  });
});

describe('build: stored config', () => {
  it('refuses a raw config it did not write', async () => {
    const cfg = await builder.validate({ image: 'busybox' }, img);
    await assert.rejects(
      builder.build({ ...cfg, raw: { v: 99 } }, facts()),
      (e: unknown) => errorCode(e) === 'Internal',
    );
  });
  it('builds the same spec from a config that went through JSON (as stored on disk)', async () => {
    const cfg = await builder.validate({ image: 'busybox', memory: '64m', volumes: ['/anon'] }, img);
    const a = await builder.build(cfg, facts());
    const b = await builder.build(JSON.parse(JSON.stringify(cfg)), facts());
    assert.deepEqual(a, b);
  });
});
