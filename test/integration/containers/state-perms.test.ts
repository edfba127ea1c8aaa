/**
 * Issue 12 item 3: a local user must not reach what containers wrote. The
 * class of Docker's CVE-2021-41091: a container (as root inside) writes a
 * setuid-root binary into its upper dir or a volume; if the host directories
 * above are traversable, any local user runs it as root. The roots and the
 * directories that hold container roots, layers and volumes are closed
 * (0700, the run dir 0710 for the API socket's group), while what a container
 * itself sees keeps its modes (a uid 1000 container still writes).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';

const run = promisify(execFile);
const IMAGE = 'test/busybox-perms:1';
let agent: TestAgent | undefined;

async function ok(args: string[]): Promise<string> {
  const r = await (agent as TestAgent).cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Runs a command as another user (setpriv), with the given stdin; never throws. */
function asUser(
  ids: string[],
  cmd: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('setpriv', [...ids, '--', ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
    // A command that exits without reading its stdin makes the write fail with EPIPE: not the test's concern.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

const NOBODY = ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];

/**
 * For each path on stdin: says OPEN when the user could read it (a file) or
 * list it (a directory), EXEC when it could run it. busybox sh: its `cat`,
 * `ls` and exec are real open(2)/execve(2) calls.
 */
const PROBE = `
while IFS= read -r p; do
  if [ -d "$p" ]; then
    ls -- "$p" >/dev/null 2>&1 && echo "OPEN $p"
  else
    cat -- "$p" >/dev/null 2>&1 && echo "OPEN $p"
    case "$p" in */suid/id) "$p" >/dev/null 2>&1 && echo "EXEC $p";; esac
  fi
done
`;

describe('state and run dirs are closed to local users', () => {
  before(async () => {
    agent = await startAgent({ socketInRunDir: true });
    // The harness's temp dir is 0700; /var/lib and /run are 0755: open it like them, so only berth's own modes count.
    await chmod(dirname(agent.stateRoot), 0o755);
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, config: { Env: ['PATH=/bin'] } });
    await ok(['load', '-i', tar]);
  });
  after(async () => {
    await agent?.stop();
  });

  test('setuid files a container wrote into its upper dir and a volume: nobody opens or runs any path under the roots', async () => {
    const a = agent as TestAgent;
    await ok([
      'run',
      '-d',
      '--name',
      'writer',
      '-v',
      'suidvol:/data',
      IMAGE,
      'sh',
      '-c',
      // busybox named `id` runs its id applet: a real program to execute.
      'mkdir /suid /data/suid && cp /bin/busybox /suid/id && chmod 4755 /suid/id && cp /bin/busybox /data/suid/id && chmod 4755 /data/suid/id && chown 1000:1000 /data && touch /ready && exec sleep 600',
    ]);
    await pollUntil(
      'the writer made its setuid files',
      async () => ((await a.cli(['exec', 'writer', 'test', '-e', '/ready'])).code === 0 ? true : undefined),
      20_000,
    );
    // A non-root container user still writes into its rootfs and into a volume it owns.
    const asUser1000 = await ok([
      'run',
      '--rm',
      '--user',
      '1000:1000',
      '-v',
      'suidvol:/data',
      IMAGE,
      'sh',
      '-c',
      'echo root-fs > /tmp/x && cat /tmp/x && echo vol > /data/by1000 && cat /data/by1000 && id -u',
    ]);
    assert.equal(asUser1000, 'root-fs\nvol\n1000\n');

    const [desc] = JSON.parse(await ok(['inspect', 'writer'])) as Array<{ id: string; rootfs: string }>;
    assert.ok(desc, 'inspect writer printed nothing');
    const snapshot = dirname(desc.rootfs);
    const volumeData = join(a.stateRoot, 'volumes', 'suidvol', '_data');
    const setuid = [
      join(snapshot, 'upper', 'suid', 'id'),
      join(desc.rootfs, 'suid', 'id'),
      join(volumeData, 'suid', 'id'),
    ];
    for (const p of setuid) assert.equal((await stat(p)).mode & 0o4000, 0o4000, `${p} is setuid-root`);

    // Every path under both roots (as root sees them), plus the setuid files by their full path.
    const { stdout: all } = await run('find', [a.stateRoot, a.runDir, '-xdev'], { maxBuffer: 64 << 20 });
    const paths = [...new Set([...all.split('\n').filter(Boolean), ...setuid])];
    assert.ok(paths.length > 50, `find listed ${paths.length} paths`);
    const probe = await asUser(NOBODY, ['/bin/busybox', 'sh', '-c', PROBE], `${paths.join('\n')}\n`);
    const reached = probe.stdout.split('\n').filter(Boolean);
    // The roots themselves may be listed by nobody only if they are open, which they are not either.
    assert.deepEqual(
      reached,
      [],
      `nobody ran ${reached.filter((r) => r.startsWith('EXEC')).join(', ') || 'none'}; reached ${reached.length} paths, e.g. ${reached.slice(0, 6).join(', ')}`,
    );
    // And a walk as nobody stops at the roots.
    const walk = await asUser(NOBODY, ['find', a.stateRoot, a.runDir]);
    assert.deepEqual(
      walk.stdout.split('\n').filter(Boolean).sort(),
      [a.runDir, a.stateRoot].sort(),
      walk.stdout,
    );
  });

  test('the roots and the directories holding container roots, layers and volumes are root-owned 0700/0710', async () => {
    const a = agent as TestAgent;
    const [desc] = JSON.parse(await ok(['inspect', 'writer'])) as Array<{
      rootfs: string;
      bundleDir: string;
    }>;
    assert.ok(desc);
    const want: Array<[string, number]> = [
      [a.stateRoot, 0o700],
      [a.runDir, 0o710],
      [join(a.stateRoot, 'snapshots'), 0o700],
      [dirname(desc.rootfs), 0o700],
      [join(a.stateRoot, 'volumes'), 0o700],
      [join(a.stateRoot, 'volumes', 'suidvol'), 0o700],
      [join(a.stateRoot, 'images'), 0o700],
      [join(a.stateRoot, 'containers'), 0o700],
      [join(a.runDir, 'exec'), 0o700],
      [join(a.runDir, 'containers'), 0o700],
    ];
    const got = await Promise.all(want.map(async ([p]) => stat(p)));
    assert.deepEqual(
      got.map((s, i) => `${want[i]?.[0]} ${(s.mode & 0o7777).toString(8)} uid ${s.uid}`),
      want.map(([p, m]) => `${p} ${m.toString(8)} uid 0`),
    );
    // What the container sees keeps its modes: its root and the volume's data stay 0755.
    assert.equal((await stat(desc.rootfs)).mode & 0o777, 0o755);
    assert.equal((await stat(join(dirname(desc.rootfs), 'upper'))).mode & 0o777, 0o755);
  });

  test('secret-bearing files are 0600: the bundle spec and the exec process spec (both carry the env)', async () => {
    const a = agent as TestAgent;
    const [desc] = JSON.parse(await ok(['inspect', 'writer'])) as Array<{ id: string; bundleDir: string }>;
    assert.ok(desc);
    assert.equal(((await stat(join(desc.bundleDir, 'config.json'))).mode & 0o777).toString(8), '600');
    // An exec's process spec lives while the exec runs.
    const execDir = join(a.runDir, 'exec', 'containers', desc.id);
    const running = a.cli(['exec', '-e', 'SECRET=s3cret', 'writer', 'sleep', '3']);
    try {
      const spec = await pollUntil(
        'an exec process spec',
        async () => (await readdir(execDir)).find((f) => /^exec-.*\.json$/.test(f)),
        10_000,
        20,
      );
      assert.equal(((await stat(join(execDir, spec))).mode & 0o777).toString(8), '600');
    } finally {
      await running;
    }
  });

  test("the API socket's group still reaches it through the run dir; others do not", async () => {
    const a = agent as TestAgent;
    const sock = await stat(a.socket);
    const curl = ['curl', '-sS', '--max-time', '10', '--unix-socket', a.socket, 'http://berth/v1/version'];
    const member = await asUser(['--reuid', 'nobody', '--regid', String(sock.gid), '--clear-groups'], curl);
    assert.equal(member.code, 0, `a member of the socket's group (gid ${sock.gid}): ${member.stderr}`);
    assert.match(member.stdout, /"api":"v1"/);
    const other = await asUser(NOBODY, curl);
    assert.notEqual(other.code, 0, `nobody:nogroup reached the API: ${other.stdout}`);
  });

  test('dirs an older release left open are tightened at start', async () => {
    const a = agent as TestAgent;
    const [desc] = JSON.parse(await ok(['inspect', 'writer'])) as Array<{ rootfs: string }>;
    assert.ok(desc);
    await a.process().stop('SIGTERM', 10_000);
    // The modes berth used to create.
    const old: Array<[string, number]> = [
      [a.stateRoot, 0o711],
      [a.runDir, 0o711],
      [join(a.stateRoot, 'snapshots'), 0o711],
      [dirname(desc.rootfs), 0o711],
      [join(a.stateRoot, 'volumes'), 0o755],
      [join(a.stateRoot, 'volumes', 'suidvol'), 0o755],
      [join(a.stateRoot, 'images'), 0o755],
      [join(a.runDir, 'exec'), 0o755],
    ];
    for (const [p, m] of old) await chmod(p, m);
    await a.restart();
    const got = await Promise.all(old.map(async ([p]) => ((await stat(p)).mode & 0o7777).toString(8)));
    assert.deepEqual(got, ['700', '710', '700', '700', '700', '700', '700', '700']);
    // The container kept running across the restart and is still reachable.
    assert.equal(await ok(['exec', 'writer', 'cat', '/data/by1000']), 'vol\n');
  });
});
