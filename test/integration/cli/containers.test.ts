/**
 * The user's view of the runtime core: a real agent (conmon + runc, overlay
 * snapshots, its own bridge and subnet) driven through the `berth` CLI.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cgroupFile, detectCgroups } from '../../../runtime/cgroups/detect.js';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

function until<T>(check: () => Promise<T | undefined>, o: { timeoutMs: number; what: string }): Promise<T> {
  return pollUntil(o.what, check, o.timeoutMs);
}

const IMAGE = 'test/busybox:1';
const BIN = fileURLToPath(new URL('../../../src/bin/berth.js', import.meta.url));
const COMMAND = fileURLToPath(new URL('../../../src/bin/berth', import.meta.url));
let agent: TestAgent;

async function ok(args: string[]): Promise<string> {
  const r = await agent.cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function inspect(name: string): Promise<Record<string, unknown>> {
  const [d] = JSON.parse(await ok(['inspect', name])) as Array<Record<string, unknown>>;
  assert.ok(d, `inspect ${name} printed nothing`);
  return d;
}

describe('berth run/ps/logs/stop/rm through a real agent', () => {
  before(async () => {
    agent = await startAgent();
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin', 'FROM_IMAGE=yes'] },
    });
    await ok(['load', '-i', tar]);
  });
  after(async () => {
    await agent?.stop();
  });

  test('run --rm prints the output and removes the container', async () => {
    const r = await agent.cli(['run', '--rm', IMAGE, 'echo', 'hello from busybox']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from busybox\n');
    assert.equal((await ok(['ps', '-a', '-q'])).trim(), '');
  });

  test('run --rm --network none: only a loopback that is up, the name is free again at once', async () => {
    const out = await ok(['run', '--rm', '--name', 'lonely', '--network', 'none', IMAGE, 'ip', '-o', 'link']);
    const links = out.split('\n').filter(Boolean);
    assert.equal(links.length, 1, out);
    assert.match(links[0] ?? '', /^1: lo: <LOOPBACK,UP/);
    assert.equal((await ok(['ps', '-a', '-q'])).trim(), '');
    // Removal is done as far as a user can tell: the name can be taken again right away.
    assert.equal(
      await ok(['run', '--rm', '--name', 'lonely', '--network', 'none', IMAGE, 'echo', 'again']),
      'again\n',
    );
  });

  test('exit codes are reported exactly', async () => {
    const r = await agent.cli(['run', '--rm', IMAGE, 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3);
  });

  test('stdout and stderr are kept apart', async () => {
    const r = await agent.cli(['run', '--rm', IMAGE, 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('image env and -e reach the process', async () => {
    const out = await ok([
      'run',
      '--rm',
      '-e',
      'GREETING=hi',
      IMAGE,
      'sh',
      '-c',
      'echo $FROM_IMAGE $GREETING',
    ]);
    assert.equal(out, 'yes hi\n');
  });

  test('--env-file and --add-host reach the process; -e wins over the file', async () => {
    const dir = await tempDir('berth-env-file-');
    const file = join(dir, 'app.env');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, '# settings\nA=from file\n\nB=file\nFROM_SHELL\n');
    const out = await agent.cli(
      [
        'run',
        '--rm',
        '--env-file',
        file,
        '-e',
        'B=flag',
        '--add-host',
        'db.internal:10.1.2.3',
        IMAGE,
        'sh',
        '-c',
        'echo "$A|$B|$FROM_SHELL"; grep db.internal /etc/hosts',
      ],
      { env: { FROM_SHELL: 'shell' } },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^from file\|flag\|shell\n10\.1\.2\.3\s+db\.internal\n$/);
    const missing = await agent.cli(['run', '--rm', '--env-file', join(dir, 'nope.env'), IMAGE, 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /--env-file: cannot read .*nope\.env: ENOENT/);
    await removeDir(dir);
  });

  test("default capabilities are Docker's set less NET_RAW; --cap-drop ALL clears them", async () => {
    const caps = await ok(['run', '--rm', IMAGE, 'grep', 'CapEff', '/proc/self/status']);
    assert.match(caps, /CapEff:\s+00000000a80405fb/);
    const none = await ok(['run', '--rm', '--cap-drop', 'ALL', IMAGE, 'grep', 'CapEff', '/proc/self/status']);
    assert.match(none, /CapEff:\s+0000000000000000/);
    const nnp = await ok(['run', '--rm', IMAGE, 'grep', 'NoNewPrivs', '/proc/self/status']);
    assert.match(nnp, /NoNewPrivs:\s+1/);
  });

  test('seccomp filters by default and not when unconfined', async () => {
    assert.match(await ok(['run', '--rm', IMAGE, 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+2/);
    const unconfined = await ok([
      'run',
      '--rm',
      '--security-opt',
      'seccomp=unconfined',
      IMAGE,
      'grep',
      'Seccomp:',
      '/proc/self/status',
    ]);
    assert.match(unconfined, /Seccomp:\s+0/);
  });

  test('--read-only root refuses writes; --tmpfs is writable', async () => {
    const r = await agent.cli([
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/scratch',
      IMAGE,
      'sh',
      '-c',
      'touch /x',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    const w = await ok([
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/scratch',
      IMAGE,
      'sh',
      '-c',
      'touch /scratch/x && echo ok',
    ]);
    assert.equal(w, 'ok\n');
  });

  test('memory and pids limits are in the cgroup and enforced', async () => {
    const id = (
      await ok(['run', '-d', '--memory', '32m', '--pids-limit', '12', IMAGE, 'sleep', '60'])
    ).trim();
    const d = await inspect(id);
    const cg = String(d.cgroupPath);
    // Where this host's cgroup mode keeps them (v1/hybrid: per controller; v2: memory.max in the unified tree).
    const info = detectCgroups();
    const memFile = info.version === 'v2' ? 'memory.max' : 'memory.limit_in_bytes';
    const limit = (await readFile(cgroupFile(info, 'memory', cg, memFile), 'utf8')).trim();
    assert.equal(limit, String(32 * 1024 * 1024));
    assert.equal((await readFile(cgroupFile(info, 'pids', cg, 'pids.max'), 'utf8')).trim(), '12');
    // Enforced: forking past the limit fails inside the container.
    const fork = await agent.cli([
      'exec',
      id,
      'sh',
      '-c',
      'for i in $(seq 1 20); do sleep 5 & done 2>&1; wait; echo done',
    ]);
    assert.match(fork.stdout + fork.stderr, /can't fork|Resource temporarily unavailable/);
    await ok(['rm', '-f', id]);
  });

  test('an OOM kill is reported as such with exit code 137', async () => {
    const r = await agent.cli([
      'run',
      '--name',
      'oom',
      '--memory',
      '16m',
      '--memory-swap',
      '16m',
      IMAGE,
      'sh',
      '-c',
      'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo $x',
    ]);
    assert.equal(r.code, 137);
    const d = await inspect('oom');
    assert.equal(d.oomKilled, true);
    assert.equal(d.exitCode, 137);
    await ok(['rm', 'oom']);
  });

  test('a published port reaches a server in the container', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'web',
      '-p',
      '127.0.0.1:0:8080',
      IMAGE,
      'sh',
      '-c',
      'echo served > /index.html; httpd -f -p 8080 -h /',
    ]);
    const d = await inspect('web');
    const ports = d.ports as Array<{ hostPort: number; containerPort: number }>;
    const hostPort = ports.find((p) => p.containerPort === 8080)?.hostPort ?? 0;
    assert.ok(hostPort > 0, JSON.stringify(ports));
    const body = await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`);
        return res.ok ? res.text() : undefined;
      },
      { timeoutMs: 10_000, what: 'http through the published port' },
    );
    assert.equal(body, 'served\n');
    const addr = Object.values(d.addresses as Record<string, string>)[0] ?? '';
    assert.ok(addr.startsWith(agent.subnet.split('.').slice(0, 3).join('.')), addr);
    await ok(['rm', '-f', 'web']);
  });

  test('exec returns output and exit code', async () => {
    await ok(['run', '-d', '--name', 'ex', IMAGE, 'sleep', '60']);
    const r = await agent.cli(['exec', 'ex', 'sh', '-c', 'echo in-container; exit 5']);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, 'in-container\n');
    await ok(['rm', '-f', 'ex']);
  });

  test('exec streams output as the command writes it; -i relays stdin byte for byte; Ctrl-C kills it', async () => {
    await ok(['run', '-d', '--name', 'streamer', IMAGE, 'sleep', '60']);
    const berth = (args: string[]) =>
      spawn(COMMAND, args, { env: { ...process.env, ...agent.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const closed = (c: ReturnType<typeof berth>) => new Promise<number | null>((r) => c.once('close', r));

    const slow = berth(['exec', 'streamer', 'sh', '-c', 'echo first; sleep 3; echo second']);
    let out = '';
    let firstAt = 0;
    slow.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (firstAt === 0 && out.includes('first')) firstAt = Date.now();
    });
    assert.equal(await closed(slow), 0);
    assert.equal(out, 'first\nsecond\n');
    assert.ok(Date.now() - firstAt >= 2000, `"first" came only ${Date.now() - firstAt} ms before the end`);

    const input = randomBytes(256 * 1024);
    const cat = berth(['exec', '-i', 'streamer', 'cat']);
    const back: Buffer[] = [];
    cat.stdout.on('data', (d: Buffer) => back.push(d));
    cat.stdin.end(input);
    assert.equal(await closed(cat), 0);
    assert.ok(
      Buffer.concat(back).equals(input),
      `got ${Buffer.concat(back).length} of ${input.length} bytes back`,
    );

    const long = berth(['exec', 'streamer', 'sh', '-c', 'echo started; exec sleep 61']);
    await new Promise<void>((r) => long.stdout.once('data', () => r()));
    long.kill('SIGINT');
    await closed(long);
    await until(async () => (/sleep 61/.test(await ok(['exec', 'streamer', 'ps'])) ? undefined : true), {
      timeoutMs: 10_000,
      what: 'the interrupted exec to be killed in the container',
    });
    await ok(['rm', '-f', 'streamer']);
  });

  test('logs: tail, stdout/stderr apart, follow ends when the container exits', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'lg',
      IMAGE,
      'sh',
      '-c',
      'for i in 1 2 3 4 5; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; sleep 1',
    ]);
    const f = await agent.cli(['logs', '-f', 'lg'], { timeoutMs: 20_000 });
    assert.equal(f.code, 0);
    assert.equal(f.stdout, 'out1\nout2\nout3\nout4\nout5\n');
    assert.equal(f.stderr, 'err1\nerr2\nerr3\nerr4\nerr5\n');
    const t = await agent.cli(['logs', '--tail', '2', 'lg']);
    assert.equal(t.stdout, 'out5\n');
    assert.equal(t.stderr, 'err5\n');
    await ok(['rm', 'lg']);
  });

  test("berth events streams a container's lifecycle with its health, in order", async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const bin = join(import.meta.dirname, '../../../src/bin/berth.js');
    const ev = spawn(process.execPath, [bin, 'events', '--filter', 'container.*'], {
      env: { ...process.env, ...agent.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    ev.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      // The subscription is up once it shows an event: short probe containers until one appears.
      await until(
        async () => {
          if (!out.includes('"evt-probe"')) await ok(['run', '--rm', '--name', 'evt-probe', IMAGE, 'true']);
          return out.includes('"evt-probe"') ? true : undefined;
        },
        { timeoutMs: 15_000, what: 'berth events to show a probe container' },
      );
      await ok([
        'run',
        '--rm',
        '--name',
        'evt',
        '--health-cmd',
        'true',
        '--health-interval',
        '100ms',
        IMAGE,
        'sleep',
        '1',
      ]);
      const topics = await until(
        async () => {
          const t = out
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { topic: string; event: { container: { name: string } } })
            .filter((e) => e.event.container.name === 'evt')
            .map((e) => e.topic);
          return t.includes('container.removed') ? t : undefined;
        },
        { timeoutMs: 15_000, what: 'container.removed in berth events' },
      );
      const order = [
        'container.created',
        'container.started',
        'container.healthy',
        'container.died',
        'container.removed',
      ];
      assert.deepEqual(
        topics.filter((t) => order.includes(t)),
        order,
        topics.join(' '),
      );
    } finally {
      ev.kill('SIGTERM');
    }
  });

  test('stop sends the stop signal and reports the exit; rm removes', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'st',
      IMAGE,
      'sh',
      '-c',
      'trap "exit 7" TERM; while true; do sleep 0.1; done',
    ]);
    // The shell has set its TERM trap: SIGTERM (15, bit 14) is among its caught signals.
    const stPid = Number((await inspect('st')).pid);
    await until(
      async () => {
        const cgt =
          /^SigCgt:\s*([0-9a-f]+)/m.exec(await readFile(`/proc/${stPid}/status`, 'utf8'))?.[1] ?? '0';
        return (BigInt(`0x${cgt}`) >> 14n) & 1n ? true : undefined;
      },
      { timeoutMs: 10_000, what: "the container's TERM trap" },
    );
    await ok(['stop', 'st']);
    const d = await inspect('st');
    assert.equal(d.state, 'exited');
    assert.equal(d.exitCode, 7);
    await ok(['rm', 'st']);
    const gone = await agent.cli(['inspect', 'st']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /st/);
  });

  test('restart: the same container again (id, volumes, logs kept), a new process; --rm ones refused', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'again',
      '-v',
      'again-data:/d',
      IMAGE,
      'sh',
      '-c',
      'echo run >> /d/runs; cat /d/runs; exec sleep 60',
    ]);
    const first = await inspect('again');
    assert.equal(await ok(['restart', '-t', '1', 'again']), 'again\n');
    const second = await inspect('again');
    assert.equal(second.id, first.id);
    assert.equal(second.state, 'running');
    assert.notEqual(second.pid, first.pid);
    await until(async () => ((await ok(['logs', 'again'])) === 'run\nrun\nrun\n' ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the second run to append to the volume and log both runs',
    });
    const bad = await agent.cli(['restart', '-t', 'soon', 'again']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /-t\/--time: must be a whole number of seconds, got "soon"/);
    await ok(['rm', '-f', 'again']);
    await ok(['volume', 'rm', 'again-data']);

    await ok(['run', '-d', '--rm', '--name', 'once', IMAGE, 'sleep', '60']);
    const refused = await agent.cli(['restart', 'once']);
    assert.equal(refused.code, 125);
    assert.match(
      refused.stderr,
      /once runs with --rm: it is removed when it stops, so it cannot be restarted/,
    );
    assert.equal((await inspect('once')).state, 'running', 'the refusal changed nothing');
    await ok(['rm', '-f', 'once']);
  });

  test('stats shows the CPU a busy container burns, its memory limit and pids; a stopped one is named', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'burner',
      '-m',
      '64m',
      '--cpus',
      '0.5',
      IMAGE,
      'sh',
      '-c',
      'while :; do :; done',
    ]);
    await ok(['run', '--name', 'idle-gone', IMAGE, 'true']);
    const r = await agent.cli(['stats', '--no-stream', 'burner', 'idle-gone']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /not running or no such container: idle-gone/);
    const [header, row, extra] = r.stdout.trim().split('\n');
    assert.match(
      header ?? '',
      /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/,
    );
    assert.equal(extra, undefined, 'only the running container named');
    const cells = (row ?? '').split(/\s{3,}/);
    assert.equal(cells[1], 'burner');
    const cpu = Number.parseFloat(cells[2] ?? '');
    // --cpus 0.5 caps it at half a core; a busy loop gets most of that.
    assert.ok(cpu > 20 && cpu < 65, `CPU ${cells[2]}`);
    assert.match(cells[3] ?? '', / \/ 67\.1MB$/, '64 MiB limit');
    assert.ok(Number(cells[7]) >= 1, `pids ${cells[7]}`);
    await ok(['rm', '-f', 'burner', 'idle-gone']);
  });

  test('a verb given several containers does every one it can, reports the others, exits 125', async () => {
    await ok(['run', '--name', 'gone-1', IMAGE, 'true']);
    await ok(['run', '--name', 'gone-2', IMAGE, 'true']);
    const r = await agent.cli(['rm', 'gone-1', 'no-such-box', 'gone-2']);
    assert.equal(r.code, 125);
    assert.equal(r.stdout, 'gone-1\ngone-2\n');
    assert.equal(r.stderr, 'berth: no such container: no-such-box\n');
    assert.doesNotMatch(await ok(['ps', '-a']), /gone-/);
  });

  test('a bad value is rejected naming the flag, and nothing is created', async () => {
    const before = await ok(['ps', '-a', '-q']);
    const r = await agent.cli(['run', '-d', '--memory', '12q', IMAGE, 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /--memory/);
    assert.equal(await ok(['ps', '-a', '-q']), before);
  });

  test('restart=on-failure:2 restarts twice with backoff, then stays exited', async () => {
    await ok(['run', '-d', '--name', 'rs', '--restart', 'on-failure:2', IMAGE, 'sh', '-c', 'exit 1']);
    const d = await until(
      async () => {
        const x = await inspect('rs');
        return x.restartCount === 2 && x.state === 'exited' ? x : undefined;
      },
      { timeoutMs: 15_000, what: 'two restarts' },
    );
    assert.equal(d.exitCode, 1);
    await ok(['rm', 'rs']);
  });

  test('health: a failing check turns unhealthy, a passing one healthy', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'hc',
      '--health-cmd',
      'test -f /tmp/ok',
      '--health-interval',
      '200ms',
      '--health-retries',
      '2',
      IMAGE,
      'sleep',
      '60',
    ]);
    await until(async () => ((await inspect('hc')).health === 'unhealthy' ? true : undefined), {
      timeoutMs: 10_000,
      what: 'unhealthy',
    });
    await ok(['exec', 'hc', 'touch', '/tmp/ok']);
    await until(async () => ((await inspect('hc')).health === 'healthy' ? true : undefined), {
      timeoutMs: 10_000,
      what: 'healthy',
    });
    await ok(['rm', '-f', 'hc']);
  });

  test('containers outlive kill -9 of the agent and are re-adopted; deaths meanwhile are reported', async () => {
    await ok(['run', '-d', '--name', 'survivor', IMAGE, 'sh', '-c', 'echo before; sleep 60']);
    await ok(['run', '-d', '--name', 'victim', IMAGE, 'sleep', '60']);
    const before = await inspect('survivor');
    const victimPid = Number((await inspect('victim')).pid);
    await agent.kill9();
    process.kill(before.pid as number, 0); // still alive without the agent
    process.kill(victimPid, 'SIGKILL'); // dies while the agent is down
    // Gone (reaped by its conmon) before the agent comes back.
    await until(async () => (existsSync(`/proc/${victimPid}`) ? undefined : true), {
      timeoutMs: 10_000,
      what: 'the victim to be gone',
    });
    await agent.restart();
    const after = await inspect('survivor');
    assert.equal(after.state, 'running');
    assert.equal(after.pid, before.pid);
    const victim = await inspect('victim');
    assert.equal(victim.state, 'exited');
    assert.equal(victim.exitCode, 137);
    assert.match(await ok(['logs', 'survivor']), /before/);
    await ok(['rm', '-f', 'survivor', 'victim']);
  });

  test('a second agent on the same state root, run dir or socket is refused; the first keeps serving', async () => {
    await ok(['run', '-d', '--name', 'kept', IMAGE, 'sleep', '60']);
    const dir = await tempDir('berth-second-agent-');
    // Flags of its own for everything else, so a second agent that wrongly got through could not
    // disturb the first one's bridge or ports before the test notices.
    const second = (over: Record<string, string>) => {
      const flags: Record<string, string> = {
        '--state-root': join(dir, 'state'),
        '--run-dir': join(dir, 'run'),
        '--socket': join(dir, 'berth.sock'),
        '--bridge': 'btsecond0',
        '--subnet': '10.214.250.0/24',
        '--dns-listen': '127.0.0.1:0',
        '--metrics-listen': '',
        ...over,
      };
      return promisify(execFile)(process.execPath, [BIN, 'agent', ...Object.entries(flags).flat()], {
        timeout: 20_000,
      }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
      );
    };
    const sameRoot = await second({ '--state-root': agent.stateRoot });
    assert.notEqual(sameRoot.code, 0);
    assert.match(
      sameRoot.stderr,
      new RegExp(
        `stateRoot: ${agent.stateRoot} is in use by another berth agent \\(pid ${agent.process().pid}\\)`,
      ),
    );
    const sameRunDir = await second({ '--run-dir': agent.runDir });
    assert.notEqual(sameRunDir.code, 0);
    assert.match(sameRunDir.stderr, /runDir: .* is in use by another berth agent/);
    const sameSocket = await second({ '--socket': agent.socket });
    assert.notEqual(sameSocket.code, 0);
    assert.match(sameSocket.stderr, /socket: another process is listening on .*berth\.sock/);
    // Nothing of the first was touched: its socket answers, its container runs, no second bridge.
    assert.equal((await inspect('kept')).state, 'running');
    assert.equal((await agent.cli(['info'])).code, 0);
    assert.ok(!existsSync('/sys/class/net/btsecond0'));
    await ok(['rm', '-f', 'kept']);
    await removeDir(dir);
  });
});
