/**
 * berth's log rotation against the real conmon 2.1.6 and runc: the file is
 * renamed to `.1` and conmon reopens through its control FIFO (`2 0 0` on
 * `<bundle>/ctl`), creating a new file at the path. A follower loses no
 * line, `.1` holds the lines of the last rotation, a plain read shows `.1`
 * then the current file, and a new executor (live restore) still rotates.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { detectCgroups } from '../../../runtime/cgroups/detect.js';
import { ConmonExecutor } from '../../../runtime/exec/executor.js';
import { LogRotator } from '../../../runtime/exec/log-rotator.js';
import { K8sLogReader } from '../../../runtime/exec/logfile.js';
import type { LogLine } from '../../../runtime/runtime.js';
import { makeBusyboxRootfs } from '../../harness/rootfs.js';

const CGROUP_PARENT = `berth-test-${randomBytes(4).toString('hex')}`;

function ociConfig(id: string, args: string[], rootfs: string): Record<string, unknown> {
  const caps = ['CAP_KILL'];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      namespaces: [{ type: 'mount' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'pid' }],
    },
  };
}

describe('log rotation through conmon control FIFO', () => {
  let work: string;
  let rootfs: string;
  const created: Array<{ ex: ConmonExecutor; id: string }> = [];
  const reader = new K8sLogReader({ pollIntervalMs: 50 });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-logrot-'));
    rootfs = join(work, 'rootfs');
    await makeBusyboxRootfs(rootfs);
  });

  after(async () => {
    for (const { ex, id } of created) await ex.delete(id).catch(() => undefined);
    await removeCgroups();
    await rm(work, { recursive: true, force: true });
  });

  const executor = (): ConmonExecutor =>
    new ConmonExecutor({
      runtimePath: '/usr/sbin/runc',
      runtimeName: 'runc',
      stateDir: join(work, 'state'),
      conmonPath: '/usr/bin/conmon',
      logger: silentLogger(),
      pollIntervalMs: 200,
    });

  async function start(ex: ConmonExecutor, args: string[]): Promise<{ id: string; logPath: string }> {
    const id = `r${randomBytes(5).toString('hex')}`;
    const dir = join(work, 'bundles', id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify(ociConfig(id, args, rootfs)));
    const logPath = join(work, 'logs', id, 'container.log');
    created.push({ ex, id });
    await ex.create(id, dir, { logPath });
    await ex.start(id);
    return { id, logPath };
  }

  async function read(path: string, query = {}): Promise<LogLine[]> {
    const out: LogLine[] = [];
    for await (const l of reader.read(path, query)) out.push(l);
    return out;
  }

  const N = 3000;
  const expected = Array.from({ length: N }, (_, i) => `line-${i + 1}-padding-padding-padding`);
  // ~75 bytes a line in the file: 3000 lines are ~225 KB, rotated at 16 KiB about a dozen times.
  const script = `i=1; while [ $i -le ${N} ]; do echo line-$i-padding-padding-padding; i=$((i+1)); if [ $((i % 100)) -eq 0 ]; then sleep 0.05; fi; done`;

  test('a follower sees every line across rotations; .1 and the file hold the last lines in order', async () => {
    const ex = executor();
    const c = await start(ex, ['sh', '-c', `sleep 0.3; ${script}`]);
    const rotator = new LogRotator({
      maxBytes: 16 * 1024,
      intervalMs: 20,
      containers: () => [{ id: c.id, logPath: c.logPath, running: true }],
      openControl: (id) => ex.openLogControl(id),
      logger: silentLogger(),
    });
    rotator.start();
    const ac = new AbortController();
    const got: string[] = [];
    const following = (async () => {
      for await (const l of reader.read(c.logPath, { follow: true, signal: ac.signal })) got.push(l.line);
    })();
    const exit = await ex.wait(c.id);
    await rotator.close();
    assert.equal(exit.exitCode, 0);
    ac.abort();
    await following;
    assert.ok(rotator.counters.rotations >= 5, `rotations: ${rotator.counters.rotations}`);
    assert.equal(rotator.counters.failures, 0);
    assert.deepEqual(got, expected, `follower got ${got.length} lines`);
    // The kept old file and the current one: the tail of the output, contiguous and in order.
    const old = (await read(`${c.logPath}.1`)).map((l) => l.line);
    assert.ok(old.length > 0, '.1 holds lines');
    const both = (await read(c.logPath)).map((l) => l.line);
    assert.deepEqual(both, expected.slice(N - both.length), 'a read shows .1 then the file, without a gap');
    assert.ok(both.length > old.length, 'the read includes the current file');
    // --tail N with N reaching into .1: the last N lines of both files together.
    const n = both.length - 2;
    const tail = (await read(c.logPath, { tail: n })).map((l) => l.line);
    assert.deepEqual(tail, expected.slice(N - n), '--tail counts across both files');
    // conmon wrote no complaint about the control messages.
    const conmonLog = await readFile(join(work, 'state', 'containers', c.id, 'conmon.log'), 'utf8').catch(
      () => '',
    );
    assert.doesNotMatch(conmonLog, /invalid|failed/i, conmonLog);
  });

  test('a new executor on the same state (live restore) rotates a running container', async () => {
    const first = executor();
    const c = await start(first, [
      'sh',
      '-c',
      'i=0; while :; do echo tick-$i-padding-padding-padding-padding; i=$((i+1)); sleep 0.002; done',
    ]);
    const later = executor();
    const rotator = new LogRotator({
      maxBytes: 8 * 1024,
      containers: () => [{ id: c.id, logPath: c.logPath, running: true }],
      openControl: (id) => later.openLogControl(id),
    });
    for (let i = 0; i < 100 && rotator.counters.rotations < 2; i++) {
      await rotator.tick();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(rotator.counters.rotations >= 2, `rotations: ${rotator.counters.rotations}`);
    // conmon reopens, then the container's next line lands in the new file: soon, but a loaded machine can
    // take longer than any fixed pause (bounded wait; the assertion below still fails on an empty file).
    const size = async () => (await stat(c.logPath).catch(() => undefined))?.size ?? 0;
    for (let i = 0; i < 100 && (await size()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await stat(c.logPath)).size > 0, 'conmon writes to the new file');
    const lines = (await read(c.logPath)).map((l) => Number(l.line.split('-')[1]));
    assert.deepEqual(
      lines,
      Array.from({ length: lines.length }, (_, i) => (lines[0] ?? 0) + i),
      'consecutive lines across .1 and the file',
    );
    await first.kill(c.id, 'KILL');
    await first.wait(c.id);
    // The monitor is gone: no control FIFO reader, so no rotation is started (nobody would finish it).
    assert.equal(await later.openLogControl(c.id), undefined);
  });
});

/** runc removes each container's cgroup on delete; the shared parent is ours to remove. */
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
