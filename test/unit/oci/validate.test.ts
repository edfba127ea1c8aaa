import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { ResolvedImage } from '../../../runtime/image/types.js';
import { OciSpecBuilder } from '../../../runtime/oci/builder.js';
import type { OciRaw } from '../../../runtime/oci/types.js';

function image(config: Record<string, unknown> = {}): ResolvedImage {
  return {
    id: 'sha256:abc',
    ref: 'busybox:latest',
    name: 'busybox',
    tag: 'latest',
    config: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin'], ...config },
    layerDirs: [],
  };
}

const builder = new OciSpecBuilder({
  cgroups: { version: 'hybrid', unifiedMount: '/sys/fs/cgroup/unified', v1Controllers: {} },
  volumesRoot: '/nonexistent',
  hostCpus: 2,
});

async function ok(req: Record<string, unknown>, img = image()) {
  const cfg = await builder.validate({ image: 'busybox', ...req }, img);
  return { cfg, raw: cfg.raw as OciRaw };
}

/** Asserts an InvalidArgumentError naming `field` whose message matches `msg`. */
async function rejects(req: Record<string, unknown>, field: string, msg: RegExp, img = image()) {
  await assert.rejects(builder.validate({ image: 'busybox', ...req }, img), (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, msg);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return true;
  });
}

describe('validate: request shape', () => {
  it('rejects unknown keys and non-objects, naming the key', async () => {
    await rejects({ memroy: '1g' }, 'memroy', /unknown key/);
    await assert.rejects(builder.validate('nope', image()), /request: must be an object/);
    await rejects({ image: 42 }, 'image', /must be a string/);
  });
});

describe('validate: command and image defaults (Docker semantics)', () => {
  it('uses image Entrypoint + Cmd when the request gives neither', async () => {
    const { raw } = await ok({}, image({ Entrypoint: ['/entry'], Cmd: ['a', 'b'] }));
    assert.deepEqual(raw.args, ['/entry', 'a', 'b']);
  });
  it('request cmd replaces image Cmd, keeps Entrypoint', async () => {
    const { raw } = await ok({ cmd: ['x'] }, image({ Entrypoint: ['/entry'], Cmd: ['a'] }));
    assert.deepEqual(raw.args, ['/entry', 'x']);
    const empty = await ok({ cmd: [] }, image({ Entrypoint: ['/entry'], Cmd: ['a'] }));
    assert.deepEqual(empty.raw.args, ['/entry', 'a']);
  });
  it('an entrypoint override clears the image Cmd', async () => {
    const { raw } = await ok({ entrypoint: ['/bin/echo'] }, image({ Entrypoint: ['/entry'], Cmd: ['a'] }));
    assert.deepEqual(raw.args, ['/bin/echo']);
    const both = await ok({ entrypoint: ['/bin/echo'], cmd: ['hi'] }, image({ Cmd: ['a'] }));
    assert.deepEqual(both.raw.args, ['/bin/echo', 'hi']);
  });
  it('rejects a container with no command at all, and bad list types', async () => {
    await rejects({}, 'cmd', /no command/, image({ Cmd: undefined }));
    await rejects({ entrypoint: [] }, 'cmd', /no command/, image({ Cmd: ['sh'] }));
    await rejects({ cmd: 'sh -c x' }, 'cmd', /must be a list of strings/);
    await rejects({ cmd: ['sh', 3] }, 'cmd[1]', /must be a string/);
  });
  it('merges env over the image env; KEY alone removes an image variable', async () => {
    const { cfg } = await ok(
      { env: ['A=1', 'PATH=/x', 'DROP'] },
      image({ Env: ['PATH=/usr/bin', 'DROP=yes', 'KEEP=k'] }),
    );
    assert.deepEqual(cfg.env, ['PATH=/x', 'KEEP=k', 'A=1']);
    await rejects({ env: ['A=1', '=v'] }, 'env[1]', /KEY=VALUE/);
  });
  it('takes workdir, user, labels and stop signal from the image unless overridden', async () => {
    const img = image({
      WorkingDir: '/app',
      User: 'nobody',
      Labels: { a: '1', b: '2' },
      StopSignal: 'SIGQUIT',
    });
    const d = await ok({}, img);
    assert.equal(d.raw.cwd, '/app');
    assert.equal(d.raw.user, 'nobody');
    assert.deepEqual(d.cfg.labels, { a: '1', b: '2' });
    assert.equal(d.cfg.stopSignal, 'SIGQUIT');
    const o = await ok({ workdir: '/w', user: '1000:1000', labels: { b: 'x' }, stopSignal: 'int' }, img);
    assert.equal(o.raw.cwd, '/w');
    assert.equal(o.raw.user, '1000:1000');
    assert.deepEqual(o.cfg.labels, { a: '1', b: 'x' });
    assert.equal(o.cfg.stopSignal, 'SIGINT');
    const defaults = await ok({});
    assert.equal(defaults.raw.cwd, '/');
    assert.equal((await ok({}, image({ WorkingDir: 'srv/app' }))).raw.cwd, '/srv/app');
    assert.equal(defaults.raw.user, '0');
    assert.equal(defaults.cfg.stopSignal, 'SIGTERM');
    assert.equal(defaults.cfg.stopTimeoutMs, 10_000);
  });
  it('rejects bad workdir, user, labels, signal and stop timeout', async () => {
    await rejects({ workdir: 'rel/dir' }, 'workdir', /absolute path/);
    await rejects({ user: 'a b' }, 'user', /uid\[:gid\] or name\[:group\]/);
    await rejects({ labels: { a: 1 } }, 'labels.a', /must be a string/);
    await rejects({ labels: ['a=b'] }, 'labels', /must be an object/);
    await rejects({ stopSignal: 'SIGNOPE' }, 'stopSignal', /not a signal/);
    assert.equal((await ok({ stopSignal: 9 })).cfg.stopSignal, 'SIGKILL');
    assert.equal((await ok({ stopTimeout: '3' })).cfg.stopTimeoutMs, 3000);
    await rejects({ stopTimeout: '-1' }, 'stopTimeout', /integer from 0/);
  });
});

describe('validate: ports', () => {
  it('parses every notation; image ExposedPorts are listed unpublished', async () => {
    const { cfg } = await ok(
      { ports: ['8080:80', '127.0.0.1:5353:53/udp', '9000', '127.0.0.1::81'] },
      image({ ExposedPorts: { '80/tcp': {}, '443/tcp': {} } }),
    );
    assert.deepEqual(cfg.ports, [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
      { containerPort: 9000, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
      { containerPort: 81, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 0 },
    ]);
  });
  it('names the bad entry', async () => {
    await rejects({ ports: ['80:80', '99999:80'] }, 'ports[1]', /host port "99999" is not a port number/);
    await rejects({ ports: ['80:80/sctp'] }, 'ports[0]', /protocol "sctp" must be tcp or udp/);
    await rejects({ ports: ['1.2.3:80:80'] }, 'ports[0]', /not an IP address/);
    await rejects({ ports: ['a:b:c:d'] }, 'ports[0]', /must be \[ip:\]hostPort:containerPort/);
    await rejects({ ports: ['8080:80', '8080:81'] }, 'ports[1]', /published twice/);
    await rejects({ ports: ['8080:80'], network: 'host' }, 'ports', /needs network bridge/);
  });
});

describe('validate: volumes and tmpfs', () => {
  it('tells binds from named and anonymous volumes', async () => {
    const { raw } = await ok({ volumes: ['/srv/data:/data:ro', 'cache:/cache', '/anon'] });
    assert.deepEqual(raw.mounts[0], {
      kind: 'bind',
      source: '/srv/data',
      destination: '/data',
      readOnly: true,
    });
    assert.deepEqual(raw.mounts[1], {
      kind: 'volume',
      name: 'cache',
      destination: '/cache',
      readOnly: false,
    });
    const anon = raw.mounts[2];
    assert.equal(anon?.kind, 'volume');
    assert.ok(anon?.kind === 'volume' && /^[0-9a-f]{64}$/.test(anon.name));
    assert.ok(anon?.kind === 'volume' && anon.anonymous === true, 'marked, so it goes with its container');
  });
  it('rejects bad volumes naming the entry', async () => {
    await rejects(
      { volumes: ['/a:/b', '/x:rel'] },
      'volumes[1]',
      /destination "rel" must be an absolute path/,
    );
    await rejects({ volumes: ['/x:/y:rx'] }, 'volumes[0]', /mode "rx" must be ro or rw/);
    await rejects(
      { volumes: ['bad name:/y'] },
      'volumes[0]',
      /neither an absolute host path nor a volume name/,
    );
    await rejects({ volumes: ['/a/../etc:/y'] }, 'volumes[0]', /clean absolute path/);
    await rejects({ volumes: ['/a:/'] }, 'volumes[0]', /other than \//);
    await rejects({ volumes: ['/a:/d', '/b:/d'] }, 'volumes[1]', /mounted twice/);
  });
  it('applies Docker tmpfs defaults with user overrides', async () => {
    const { raw } = await ok({ tmpfs: ['/run', '/tmp:size=64m,mode=1777,exec'] });
    assert.deepEqual(raw.mounts[0], {
      kind: 'tmpfs',
      destination: '/run',
      options: ['noexec', 'nosuid', 'nodev'],
    });
    assert.deepEqual(raw.mounts[1], {
      kind: 'tmpfs',
      destination: '/tmp',
      options: ['nosuid', 'nodev', 'size=64m', 'mode=1777'],
    });
    await rejects({ tmpfs: ['/run:bogus'] }, 'tmpfs[0]', /unknown tmpfs option "bogus"/);
    await rejects({ tmpfs: ['/run:size=lots'] }, 'tmpfs[0]', /not a size/);
    await rejects({ tmpfs: ['run'] }, 'tmpfs[0]', /absolute path/);
    await rejects({ volumes: ['/a:/run'], tmpfs: ['/run'] }, 'tmpfs[0]', /mounted twice/);
  });
});

describe('validate: security', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-oci-validate-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves capabilities from Docker defaults with add/drop/ALL', async () => {
    const d = await ok({});
    assert.ok(d.raw.caps.includes('CAP_CHOWN') && d.raw.caps.includes('CAP_NET_BIND_SERVICE'));
    assert.equal(d.raw.caps.length, 13); // Docker's 14 less CAP_NET_RAW
    const ad = await ok({ capAdd: ['net_admin'], capDrop: ['CAP_CHOWN', 'kill'] });
    assert.ok(ad.raw.caps.includes('CAP_NET_ADMIN'));
    assert.ok(!ad.raw.caps.includes('CAP_CHOWN') && !ad.raw.caps.includes('CAP_KILL'));
    assert.deepEqual((await ok({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] })).raw.caps, [
      'CAP_NET_BIND_SERVICE',
    ]);
    assert.equal((await ok({ capAdd: ['all'] })).raw.caps.length, 41);
    await rejects({ capAdd: ['CHOWN', 'FLY'] }, 'capAdd[1]', /unknown capability "FLY"/);
    await rejects({ capDrop: [1] }, 'capDrop[0]', /must be a string/);
  });
  it('defaults to no-new-privileges and the default seccomp profile', async () => {
    const d = await ok({});
    assert.equal(d.raw.noNewPrivileges, true);
    assert.deepEqual(d.raw.seccomp, { mode: 'default' });
    assert.equal((await ok({ securityOpt: ['no-new-privileges:false'] })).raw.noNewPrivileges, false);
    assert.equal((await ok({ securityOpt: ['no-new-privileges'] })).raw.noNewPrivileges, true);
    assert.deepEqual((await ok({ securityOpt: ['seccomp=unconfined'] })).raw.seccomp, { mode: 'unconfined' });
  });
  it('reads a seccomp profile file once, at validation', async () => {
    const p = join(dir, 'profile.json');
    await writeFile(p, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }));
    const d = await ok({ securityOpt: [`seccomp=${p}`] });
    assert.deepEqual(d.raw.seccomp, {
      mode: 'custom',
      profile: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] },
    });
    await rejects(
      { securityOpt: [`seccomp=${join(dir, 'missing.json')}`] },
      'securityOpt[0]',
      /cannot read seccomp profile/,
    );
    await writeFile(join(dir, 'bad.json'), '{"syscalls": []}');
    await rejects(
      { securityOpt: [`seccomp=${join(dir, 'bad.json')}`] },
      'securityOpt[0]',
      /no defaultAction/,
    );
    await rejects({ securityOpt: ['seccomp=rel.json'] }, 'securityOpt[0]', /must be absolute/);
    await rejects(
      { securityOpt: ['no-new-privileges', 'apparmor=x'] },
      'securityOpt[1]',
      /unsupported "apparmor=x"/,
    );
  });
  it('takes booleans only as booleans', async () => {
    assert.equal((await ok({ readOnly: true, privileged: true })).raw.privileged, true);
    await rejects({ readOnly: 'yes' }, 'readOnly', /true or false/);
    await rejects({ privileged: 1 }, 'privileged', /true or false/);
    await rejects({ autoRemove: 'true' }, 'autoRemove', /true or false/);
  });
});

describe('validate: resources', () => {
  it('parses sizes, cpus, cpuset, pids and ulimits', async () => {
    const { raw } = await ok({
      memory: '512m',
      memorySwap: '1g',
      cpus: '1.5',
      cpusetCpus: '0-1',
      pidsLimit: '100',
      ulimits: ['nofile=1024:2048', 'nproc=64'],
    });
    assert.deepEqual(raw.resources, {
      memory: 512 * 1024 * 1024,
      memorySwap: 1024 ** 3,
      cpuQuota: 150_000,
      cpuPeriod: 100_000,
      cpusetCpus: '0-1',
      pidsLimit: 100,
    });
    assert.deepEqual(raw.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
      { type: 'RLIMIT_NPROC', soft: 64, hard: 64 },
    ]);
    assert.equal((await ok({ memory: 1073741824 })).raw.resources.memory, 1073741824);
    assert.equal((await ok({ memory: '1.5g' })).raw.resources.memory, 1.5 * 1024 ** 3);
    assert.equal((await ok({ memory: '64m', memorySwap: -1 })).raw.resources.memorySwap, -1);
    assert.equal((await ok({ pidsLimit: -1 })).raw.resources.pidsLimit, -1);
  });
  it('rejects bad values naming the field', async () => {
    await rejects({ memory: '12q' }, 'memory', /"12q" is not a size \(e\.g\. 512m, 1g\)/);
    await rejects({ memory: '1m' }, 'memory', /below the minimum of 6m/);
    await rejects({ memorySwap: '1g' }, 'memorySwap', /needs memory/);
    await rejects({ memory: '1g', memorySwap: '512m' }, 'memorySwap', /below memory/);
    await rejects({ cpus: '4' }, 'cpus', /from 0.01 to 2/);
    await rejects({ cpus: 'fast' }, 'cpus', /not a CPU count/);
    await rejects({ cpusetCpus: '0-' }, 'cpusetCpus', /not a CPU list/);
    await rejects({ cpusetCpus: '3-1' }, 'cpusetCpus', /reversed/);
    await rejects({ pidsLimit: '0' }, 'pidsLimit', /positive, or -1/);
    await rejects({ pidsLimit: 'many' }, 'pidsLimit', /not an integer/);
    await rejects({ ulimits: ['nofile=1024', 'nofile=10'] }, 'ulimits[1]', /given twice/);
    await rejects({ ulimits: ['nofiles=1'] }, 'ulimits[0]', /unknown limit "nofiles"/);
    await rejects(
      { ulimits: ['nofile=2048:1024'] },
      'ulimits[0]',
      /soft limit 2048 is above hard limit 1024/,
    );
    await rejects({ ulimits: ['nofile'] }, 'ulimits[0]', /NAME=SOFT\[:HARD\]/);
  });
});

describe('validate: lifecycle, network, names', () => {
  it('parses restart and refuses it with autoRemove', async () => {
    assert.deepEqual((await ok({ restart: 'on-failure:3' })).cfg.restart, {
      name: 'on-failure',
      maxRetries: 3,
    });
    assert.deepEqual((await ok({})).cfg.restart, { name: 'no', maxRetries: 0 });
    await rejects({ restart: 'sometimes' }, 'restart', /must be no, on-failure/);
    await rejects({ restart: 'always', autoRemove: true }, 'autoRemove', /conflicts with restart always/);
    assert.equal((await ok({ autoRemove: true })).cfg.autoRemove, true);
  });
  it('takes network none|host|bridge (bridge by default)', async () => {
    assert.equal((await ok({})).cfg.network, 'bridge');
    assert.equal((await ok({ network: 'none' })).raw.network, 'none');
    await rejects({ network: 'overlay' }, 'network', /must be none, host or bridge/);
  });
  it('checks name, hostname and extra hosts', async () => {
    const d = await ok({ name: 'web-1', hostname: 'web.local', extraHosts: ['db:10.0.0.2', 'v6:[::1]'] });
    assert.equal(d.cfg.name, 'web-1');
    assert.equal(d.cfg.hostname, 'web.local');
    assert.deepEqual(d.cfg.extraHosts, ['db:10.0.0.2', 'v6:::1']);
    await rejects({ name: 'bad name' }, 'name', /must match/);
    await rejects({ hostname: '-bad-' }, 'hostname', /not a valid hostname/);
    await rejects({ extraHosts: ['db'] }, 'extraHosts[0]', /HOST:IP/);
    await rejects({ extraHosts: ['db:10.0.0'] }, 'extraHosts[0]', /not an IP address/);
  });
});

describe('validate: healthcheck', () => {
  const imgHc = image({
    Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Timeout: 2e9, Retries: 4, StartPeriod: 0 },
  });
  it('inherits the image healthcheck and overlays request fields', async () => {
    const d = await ok({}, imgHc);
    assert.deepEqual(d.cfg.health, {
      probe: { kind: 'cmd', argv: ['/bin/sh', '-c', 'true'] },
      intervalMs: 5000,
      timeoutMs: 2000,
      retries: 4,
      startPeriodMs: 0,
    });
    const o = await ok({ healthcheck: { interval: '1m30s', retries: '2', startPeriod: '500ms' } }, imgHc);
    assert.equal(o.cfg.health?.intervalMs, 90_000);
    assert.equal(o.cfg.health?.retries, 2);
    assert.equal(o.cfg.health?.startPeriodMs, 500);
    assert.equal(o.cfg.health?.timeoutMs, 2000);
  });
  it('NONE disables the image check; http/tcp probes pass through', async () => {
    assert.equal((await ok({ healthcheck: { test: ['NONE'] } }, imgHc)).cfg.health, undefined);
    assert.equal((await ok({})).cfg.health, undefined);
    const h = await ok({ healthcheck: { test: { http: 'http://localhost:8080/health' } } });
    assert.deepEqual(h.cfg.health?.probe, { kind: 'http', url: 'http://localhost:8080/health' });
  });
  it('rejects bad fields', async () => {
    await rejects({ healthcheck: { test: ['CMD'] } }, 'healthcheck.test', /must be \["CMD", arg\.\.\.\]/);
    await rejects(
      { healthcheck: { test: ['CMD', 'x'], interval: '5 minutes' } },
      'healthcheck.interval',
      /not a duration/,
    );
    await rejects(
      { healthcheck: { test: ['CMD', 'x'], retries: 0 } },
      'healthcheck.retries',
      /integer from 1/,
    );
    await rejects({ healthcheck: { test: ['CMD', 'x'], every: '1s' } }, 'healthcheck.every', /unknown key/);
    await rejects({ healthcheck: { interval: '1s' } }, 'healthcheck.test', /required/);
  });
});
