// Over 400 lines: one runc + conmon executor and busybox bundle shared by every lifecycle test, so they stay in one file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isFailedPrecondition, isInvalidArgument, isNotFound } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { cgroupFile, detectCgroups } from '../../../runtime/cgroups/detect.js';
import { ConmonExecutor } from '../../../runtime/exec/executor.js';
import { K8sLogReader } from '../../../runtime/exec/logfile.js';
import { StateLayout } from '../../../runtime/exec/state.js';
import type { LogLine } from '../../../runtime/runtime.js';
import { makeBusyboxRootfs } from '../../harness/rootfs.js';

const RUNC = '/usr/sbin/runc';
const CONMON = '/usr/bin/conmon';
const suffix = randomBytes(4).toString('hex');
const CGROUP_PARENT = `berth-test-${suffix}`;

interface BundleOpts {
  args: string[];
  memoryLimit?: number;
  /** Share the host pid namespace (so the command is not a pid-namespace init that ignores TERM). */
  hostPid?: boolean;
  terminal?: boolean;
}

/** A minimal OCI config written by hand, so this test does not depend on the spec builder. */
function ociConfig(id: string, o: BundleOpts): Record<string, unknown> {
  const caps = [
    'CAP_CHOWN',
    'CAP_DAC_OVERRIDE',
    'CAP_FOWNER',
    'CAP_KILL',
    'CAP_SETGID',
    'CAP_SETUID',
    'CAP_NET_BIND_SERVICE',
  ];
  const namespaces = [{ type: 'mount' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }];
  if (!o.hostPid) namespaces.push({ type: 'pid' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal === true,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: ['PATH=/bin', 'HOME=/root', 'BERTH_TEST=1'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      namespaces,
      resources: o.memoryLimit ? { memory: { limit: o.memoryLimit, swap: o.memoryLimit } } : {},
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

describe('ConmonExecutor with runc', () => {
  let work: string;
  let rootfs: string;
  let stateDir: string;
  let executor: ConmonExecutor;
  const created = new Set<string>();
  const reader = new K8sLogReader();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-exec-'));
    rootfs = join(work, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    stateDir = join(work, 'state');
    executor = newExecutor();
  });

  after(async () => {
    const cleaner = newExecutor();
    for (const id of created) await cleaner.delete(id).catch(() => undefined);
    await removeCgroups();
    await rm(work, { recursive: true, force: true });
  });

  function newExecutor(): ConmonExecutor {
    return new ConmonExecutor({
      runtimePath: RUNC,
      runtimeName: 'runc',
      stateDir,
      conmonPath: CONMON,
      logger: silentLogger(),
      pollIntervalMs: 200,
    });
  }

  /** A bundle sharing the one rootfs (runc does not write to it with these mounts). */
  async function bundle(o: BundleOpts): Promise<{ id: string; dir: string; logPath: string }> {
    const id = `t${randomBytes(5).toString('hex')}`;
    const dir = join(work, 'bundles', id);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ ...ociConfig(id, o), root: { path: rootfs, readonly: false } }),
    );
    return { id, dir, logPath: join(work, 'logs', `${id}.log`) };
  }

  async function run(o: BundleOpts, ex = executor): Promise<{ id: string; logPath: string; pid: number }> {
    const b = await bundle(o);
    created.add(b.id);
    const { pid } = await ex.create(b.id, b.dir, { logPath: b.logPath });
    await ex.start(b.id);
    return { id: b.id, logPath: b.logPath, pid };
  }

  async function logs(path: string): Promise<LogLine[]> {
    const out: LogLine[] = [];
    for await (const l of reader.read(path, {})) out.push(l);
    return out;
  }

  test('output reaches the log with its stream; exit code 0', async () => {
    const c = await run({ args: ['sh', '-c', 'echo to-out; echo to-err >&2; printf no-newline'] });
    const exit = await executor.wait(c.id);
    assert.equal(exit.exitCode, 0);
    assert.equal(exit.oomKilled, false);
    assert.equal(exit.signal, undefined);
    assert.ok(Math.abs(Date.parse(exit.finishedAt) - Date.now()) < 10_000, exit.finishedAt);
    const lines = await logs(c.logPath);
    assert.deepEqual(
      lines.map((l) => [l.stream, l.line]),
      [
        ['stdout', 'to-out'],
        ['stderr', 'to-err'],
        ['stdout', 'no-newline'],
      ],
    );
    assert.match(lines[0]?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // wait() again after exit answers at once with the same result.
    assert.deepEqual(await executor.wait(c.id), exit);
  });

  test('a container with a terminal logs the pty output as stdout', async () => {
    const c = await run({ args: ['sh', '-c', 'tty; exit 5'], terminal: true });
    const exit = await executor.wait(c.id);
    assert.equal(exit.exitCode, 5);
    // The pty turns \n into \r\n; the reader keeps the line's bytes as written.
    assert.deepEqual(
      (await logs(c.logPath)).map((l) => [l.stream, l.line]),
      [['stdout', '/dev/pts/0\r']],
    );
  });

  test('exit code 3 is reported exactly', async () => {
    const c = await run({ args: ['sh', '-c', 'exit 3'] });
    const exit = await executor.wait(c.id);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.signal, undefined);
  });

  test('start leaves the container running as runc itself reports it (exec.fifo gone)', async () => {
    const c = await run({ args: ['sleep', '300'] });
    const layout = new StateLayout(stateDir);
    assert.equal(existsSync(join(layout.runtimeRoot, c.id, 'exec.fifo')), false);
    const state = JSON.parse(
      execFileSync(RUNC, ['--root', layout.runtimeRoot, 'state', c.id], { encoding: 'utf8' }),
    ) as { status: string; pid: number };
    assert.equal(state.status, 'running');
    assert.equal(state.pid, c.pid);
    assert.equal(readFileSync(`/proc/${c.pid}/cmdline`, 'utf8'), 'sleep\u0000300\u0000');
    await executor.kill(c.id, 'KILL');
    assert.equal((await executor.wait(c.id)).exitCode, 137);
  });

  test('kill TERM ends a sleeping container and the signal is reported', async () => {
    const c = await run({ args: ['sleep', '300'], hostPid: true });
    const waiting = executor.wait(c.id);
    await executor.kill(c.id, 'TERM');
    const exit = await waiting;
    assert.equal(exit.exitCode, 143);
    assert.equal(exit.signal, 'SIGTERM');
  });

  test('waits on several containers at once (one shared watch) each get their own exit', async () => {
    const cs = await Promise.all(
      [3, 4, 5].map((code) => run({ args: ['sh', '-c', `sleep 0.3; exit ${code}`] })),
    );
    // Two waits on the same container as well.
    const first = cs[0];
    assert.ok(first);
    const exits = await Promise.all([...cs.map((c) => executor.wait(c.id)), executor.wait(first.id)]);
    assert.deepEqual(
      exits.map((e) => e.exitCode),
      [3, 4, 5, 3],
    );
  });

  test('a monitor killed with its container is noticed by the poll: exit 255', async () => {
    const c = await run({ args: ['sleep', '300'] });
    const waiting = executor.wait(c.id);
    const conmon = Number((await readFile(new StateLayout(stateDir).conmonPidFile(c.id), 'utf8')).trim());
    assert.ok(conmon > 0, 'conmon pid file');
    process.kill(conmon, 'SIGKILL');
    process.kill(c.pid, 'SIGKILL');
    // No exit file will ever be written: only the poll (200 ms here) can end the wait.
    const exit = await waiting;
    assert.equal(exit.exitCode, 255);
  });

  test('kill by number in a pid namespace (init ignores TERM, not KILL)', async () => {
    const c = await run({ args: ['sleep', '300'] });
    await executor.kill(c.id, '9');
    const exit = await executor.wait(c.id);
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.signal, 'SIGKILL');
    await assert.rejects(executor.kill(c.id, 'BOGUS'), (e: unknown) => isInvalidArgument(e));
  });

  test('a container over its memory limit is OOM-killed: 137 and oomKilled', async () => {
    const c = await run({ args: ['tail', '/dev/zero'], memoryLimit: 8 << 20 });
    const exit = await executor.wait(c.id);
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.oomKilled, true);
    assert.equal(exit.signal, 'SIGKILL');
    // The kernel's counter was found where this host's cgroup layout puts it (v1/hybrid or v2).
    const info = detectCgroups();
    const meta = JSON.parse(await readFile(new StateLayout(stateDir).metaFile(c.id), 'utf8')) as {
      oomCounterPath?: string;
    };
    const counter = info.version === 'v2' ? 'memory.events' : 'memory.oom_control';
    assert.equal(meta.oomCounterPath, cgroupFile(info, 'memory', `/${CGROUP_PARENT}/${c.id}`, counter));
  });

  test('a missing binary fails create with the runtime message', async () => {
    const b = await bundle({ args: ['/bin/does-not-exist'] });
    created.add(b.id);
    await assert.rejects(executor.create(b.id, b.dir, { logPath: b.logPath }), (e: unknown) => {
      assert.ok(isFailedPrecondition(e), String(e));
      assert.match(String(e), /does-not-exist/);
      return true;
    });
    assert.deepEqual(await executor.adopt(b.id), { status: 'missing' });
  });

  test('exec returns stdout, stderr and the exit code, as the given user', async () => {
    const c = await run({ args: ['sleep', '300'] });
    const r = await executor.exec(c.id, {
      cmd: ['sh', '-c', 'echo out-$BERTH_TEST-$EXTRA; pwd; echo bad >&2; exit 4'],
      env: ['EXTRA=x'],
      workdir: '/tmp',
    });
    assert.deepEqual(r, { exitCode: 4, stdout: 'out-1-x\n/tmp\n', stderr: 'bad\n' });
    const who = await executor.exec(c.id, { cmd: ['id', '-u'], user: 'nobody' });
    assert.deepEqual(who, { exitCode: 0, stdout: '65534\n', stderr: '' });
    const missing = await executor.exec(c.id, { cmd: ['no-such-command'] });
    assert.equal(missing.exitCode, 127);
    assert.match(missing.stderr, /no-such-command/);

    // Aborting kills the exec'd process.
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error('probe timeout')), 200);
    await assert.rejects(executor.exec(c.id, { cmd: ['sleep', '60'] }, ac.signal), /probe timeout/);
    assert.ok(Date.now() - started < 5000);

    await executor.kill(c.id, 'KILL');
    await executor.wait(c.id);
    await assert.rejects(executor.exec(c.id, { cmd: ['true'] }), (e: unknown) => isFailedPrecondition(e));
  });

  test('exec with an output limit keeps that many bytes of each stream and still reports the exit', async () => {
    const c = await run({ args: ['sleep', '300'] });
    // 8 MiB on each stream, as a chatty health command might print.
    const r = await executor.exec(c.id, {
      cmd: ['sh', '-c', 'yes out | head -c 8388608; yes err | head -c 8388608 >&2; exit 3'],
      outputLimit: 4096,
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout.length, 4096);
    assert.equal(r.stderr.length, 4096);
    assert.ok(r.stdout.startsWith('out\nout\n') && r.stderr.startsWith('err\nerr\n'));
    await executor.kill(c.id, 'KILL');
    await executor.wait(c.id);
  });

  test('live restore: a new executor adopts a running container and sees its exit', async () => {
    let a: ConmonExecutor | undefined = newExecutor();
    const c = await run({ args: ['sleep', '300'] }, a);
    a = undefined;
    assert.equal(a, undefined);

    const b = newExecutor();
    assert.deepEqual(await b.adopt(c.id), { status: 'running', pid: c.pid });
    const waiting = b.wait(c.id);
    // Killed behind the agent's back.
    process.kill(c.pid, 'SIGKILL');
    const exit = await waiting;
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.signal, 'SIGKILL');
    const adopted = await newExecutor().adopt(c.id);
    assert.deepEqual(adopted, { status: 'exited', exit });
  });

  test('live restore: a container created and never started is reported as created, not running', async () => {
    const b = await bundle({ args: ['sleep', '300'] });
    created.add(b.id);
    const { pid } = await executor.create(b.id, b.dir, { logPath: b.logPath });
    // A new executor (the next agent) after the agent died between runc create and start.
    assert.deepEqual(await newExecutor().adopt(b.id), { status: 'created', pid });
    await executor.delete(b.id);
    assert.deepEqual(await newExecutor().adopt(b.id), { status: 'missing' });
  });

  test('following the log across conmon rotations (--log-size-max) loses no line', async () => {
    const small = new ConmonExecutor({
      runtimePath: RUNC,
      runtimeName: 'runc',
      stateDir,
      conmonPath: CONMON,
      logger: silentLogger(),
      logSizeMax: 2048,
    });
    const b = await bundle({
      args: [
        'sh',
        '-c',
        'i=0; while [ $i -lt 100 ]; do echo line-$i-padding-padding; i=$((i+1)); sleep 0.02; done',
      ],
    });
    created.add(b.id);
    await small.create(b.id, b.dir, { logPath: b.logPath });
    const ac = new AbortController();
    const got: string[] = [];
    const inodes = new Set<number>();
    const following = (async () => {
      for await (const l of reader.read(b.logPath, { follow: true, signal: ac.signal })) {
        got.push(l.line);
        inodes.add((await stat(b.logPath)).ino);
      }
    })();
    await small.start(b.id);
    const exit = await small.wait(b.id);
    assert.equal(exit.exitCode, 0);
    // The caller learns of the exit from wait(); aborting then drains what is left.
    ac.abort();
    await following;
    assert.equal(got.length, 100);
    assert.deepEqual(
      got,
      Array.from({ length: 100 }, (_, i) => `line-${i}-padding-padding`),
    );
    assert.ok(inodes.size > 1, 'conmon rotated the file');
    // conmon keeps no old file: a non-following read sees only the newest one.
    assert.ok((await logs(b.logPath)).length < 100);
  });

  test('delete removes runtime and monitor state and is idempotent', async () => {
    const c = await run({ args: ['sleep', '300'] });
    await executor.delete(c.id);
    await executor.delete(c.id);
    created.delete(c.id);
    assert.deepEqual(await executor.adopt(c.id), { status: 'missing' });
    assert.equal(existsSync(join(stateDir, 'containers', c.id)), false);
    assert.equal(existsSync(join(stateDir, 'exits', c.id)), false);
    await assert.rejects(executor.wait(c.id), (e: unknown) => isNotFound(e));
    await assert.rejects(executor.start(c.id), (e: unknown) => isNotFound(e));
  });
});

/** runc removes each container's cgroup on delete; the shared parent is ours to remove, in every hierarchy of this host's mode. */
async function removeCgroups(): Promise<void> {
  const info = detectCgroups();
  const mounts = new Set([
    ...Object.values(info.v1Controllers),
    ...(info.unifiedMount ? [info.unifiedMount] : []),
  ]);
  for (const mount of mounts) {
    const parent = join(mount, CGROUP_PARENT);
    if (!(await stat(parent).catch(() => undefined))) continue;
    for (const child of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory()) await rmdir(join(parent, child.name)).catch(() => undefined);
    }
    await rmdir(parent).catch(() => undefined);
  }
}
