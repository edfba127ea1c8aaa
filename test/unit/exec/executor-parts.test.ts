import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { HostProc } from '../../../runtime/cgroups/proc.js';
import { conmonArgs } from '../../../runtime/exec/conmon.js';
import { ExitWatcher } from '../../../runtime/exec/exit-watch.js';
import { MonitorProbe, parsePid, readPid } from '../../../runtime/exec/monitor.js';
import { StateLayout } from '../../../runtime/exec/state.js';

/** The executor's pure parts: conmon's command line and the monitor liveness checks over a fixture procfs. */
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const ID = 'c0ffee';
const stat = (pid: number, state: string, start: number) =>
  `${pid} (conmon) ${state} 1 ${pid} ${pid} 0 -1 4194560 106 0 0 0 0 0 0 0 20 0 1 0 ${start} 2412544 128\n`;

async function procTree(): Promise<string> {
  const proc = await mkdtemp(join(tmpdir(), 'berth-proc-'));
  dirs.push(proc);
  const add = async (pid: number, cmdline: string[], st: string) => {
    await mkdir(join(proc, String(pid)));
    await writeFile(join(proc, String(pid), 'cmdline'), `${cmdline.join('\0')}\0`);
    await writeFile(join(proc, String(pid), 'stat'), st);
  };
  await add(100, ['/usr/bin/conmon', '--api-version', '1', '-c', ID, '-u', ID], stat(100, 'S', 5000));
  await add(101, ['/usr/bin/conmon', '-c', 'other'], stat(101, 'S', 5001));
  await add(102, ['/usr/bin/conmon', '-c', ID], stat(102, 'Z', 5002));
  await add(103, ['sleep', ID], stat(103, 'S', 5003));
  return proc;
}

describe('conmon command line', () => {
  test('is what runtime/exec/README.md documents, with --terminal and --log-size-max when asked', () => {
    const layout = new StateLayout('/run/berth/exec');
    const base = conmonArgs(ID, {
      layout,
      runtimePath: '/usr/sbin/runc',
      bundleDir: '/b',
      logPath: '/l/c.log',
      terminal: false,
    });
    assert.deepEqual(base, [
      ...['--api-version', '1', '-c', ID, '-u', ID, '-n', ID, '-r', '/usr/sbin/runc', '-b', '/b'],
      ...['-p', `/run/berth/exec/containers/${ID}/pid`, '-P', `/run/berth/exec/containers/${ID}/conmon.pid`],
      ...['-l', 'k8s-file:/l/c.log', '--exit-dir', '/run/berth/exec/exits'],
      ...[
        '--persist-dir',
        `/run/berth/exec/containers/${ID}`,
        '--socket-dir-path',
        '/run/berth/exec/sockets',
      ],
      ...['--runtime-arg', '--root=/run/berth/exec/runtime'],
      ...['--runtime-arg', `--log=/run/berth/exec/containers/${ID}/runtime.log`],
      ...['--runtime-arg', '--log-format=json'],
    ]);
    const more = conmonArgs(ID, {
      layout,
      runtimePath: '/usr/sbin/runc',
      bundleDir: '/b',
      logPath: '/l/c.log',
      terminal: true,
      logSizeMax: 1024,
    });
    assert.deepEqual(more.slice(base.length), ['--terminal', '--log-size-max', '1024']);
    assert.equal(
      conmonArgs(ID, {
        layout,
        runtimePath: 'r',
        bundleDir: '/b',
        logPath: '/l',
        terminal: false,
        logSizeMax: 0,
      }).length,
      base.length,
    );
  });
});

describe('monitor liveness (procfs under a root)', () => {
  test("isConmon: the conmon of this id, not another container's, not a zombie, not another program", async () => {
    const probe = new MonitorProbe(new HostProc(await procTree()));
    assert.equal(await probe.isConmon(100, ID), true);
    assert.equal(await probe.isConmon(101, ID), false);
    assert.equal(await probe.isConmon(102, ID), false);
    assert.equal(await probe.isConmon(103, ID), false);
    assert.equal(await probe.isConmon(999, ID), false);
  });

  test('live() remembers pid and start time; stillRuns() tells a reused pid apart', async () => {
    const proc = await procTree();
    const probe = new MonitorProbe(new HostProc(proc));
    const pidFile = join(proc, 'conmon.pid');
    await writeFile(pidFile, '100\n');
    const m = probe.live(pidFile);
    assert.deepEqual(m, { pid: 100, start: '5000' });
    assert.equal(m && probe.stillRuns(m), true);
    // The pid is reused by a process started later.
    await writeFile(join(proc, '100', 'stat'), stat(100, 'S', 9999));
    assert.equal(m && probe.stillRuns(m), false);
    assert.equal(probe.live(join(proc, 'missing.pid')), undefined);
    await writeFile(pidFile, '102');
    assert.equal(probe.live(pidFile), undefined, 'a zombie is not a live monitor');
  });

  test('pid files: a positive integer or nothing', async () => {
    assert.equal(parsePid(' 42\n'), 42);
    assert.equal(parsePid('0'), undefined);
    assert.equal(parsePid('-3'), undefined);
    assert.equal(parsePid('abc'), undefined);
    assert.equal(await readPid('/nonexistent/conmon.pid'), undefined);
  });
});

describe('exit watcher', () => {
  test('resolves each wait when its exit file appears (fs.watch), and survives a failing check', async () => {
    const exits = await mkdtemp(join(tmpdir(), 'berth-exits-'));
    dirs.push(exits);
    const watcher = new ExitWatcher(exits, 60_000, new MonitorProbe(new HostProc(exits)), silentLogger());
    let failOnce = true;
    const waitFor = (id: string) =>
      watcher.wait(id, {
        exitFile: join(exits, id),
        pidFile: join(exits, `${id}.pid`),
        probe: async () => {
          if (id === 'b' && failOnce) {
            failOnce = false;
            throw new Error('runc state timed out');
          }
          const text = await readFile(join(exits, id), 'utf8').catch(() => undefined);
          return text === undefined
            ? undefined
            : { exitCode: Number(text), oomKilled: false, finishedAt: 'now' };
        },
      });
    const a = waitFor('a');
    const b = waitFor('b');
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(exits, 'b'), '3');
    await writeFile(join(exits, 'a'), '0');
    assert.equal((await a).exitCode, 0);
    assert.equal((await b).exitCode, 3);
  });
});
