import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildCreateRequest, envFiles, nameFlagInMessage } from '../../../src/cli/run-request.js';

const bin = fileURLToPath(new URL('../../../src/bin/berth.js', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

async function berth(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await promisify(execFile)(process.execPath, [bin, ...args], {
      env: { ...process.env, BERTH_FROM_SOURCE: '1', BERTH_SOCKET: '/nonexistent/berth.sock', ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const VERBS = [
  'version',
  'agent',
  'info',
  'events',
  'run',
  'create',
  'start',
  'ps',
  'logs',
  'stop',
  'restart',
  'kill',
  'rm',
  'inspect',
  'wait',
  'exec',
  'images',
  'rmi',
  'load',
  'import',
  'pull',
  'volume',
  'tag',
  'container',
  'image',
  'system',
  'stats',
  'login',
  'logout',
];

describe('berth CLI', () => {
  it('lists every verb in --help', async () => {
    const r = await berth(['--help']);
    assert.equal(r.code, 0);
    for (const v of VERBS)
      assert.match(r.stdout, new RegExp(`^\\s+${v}\\b`, 'm'), `${v} missing from --help`);
  });

  it('has --help for every verb', async () => {
    const results = await Promise.all(VERBS.map((v) => berth([v, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${VERBS[i]} --help failed: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: berth ${VERBS[i]}`));
    });
    const run = results[VERBS.indexOf('run')];
    for (const flag of [
      '--detach',
      '--rm',
      '--name',
      '--env',
      '--publish',
      '--volume',
      '--tmpfs',
      '--read-only',
      '--cap-add',
      '--cap-drop',
      '--security-opt',
      '--memory',
      '--cpus',
      '--pids-limit',
      '--restart',
      '--health-cmd',
      '--network',
      '--label',
    ]) {
      assert.match(run?.stdout ?? '', new RegExp(flag), `run --help lacks ${flag}`);
    }
  });

  it('prints its version', async () => {
    const r = await berth(['version', '--json']);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).berth, pkg.version);
    assert.equal((await berth(['--version'])).stdout.trim(), pkg.version);
  });

  it('names an unknown verb or a flag without its value', async () => {
    const unknown = await berth(['bogus']);
    assert.equal(unknown.code, 125, 'usage errors exit 125 like every CLI error');
    assert.match(unknown.stderr, /unknown command 'bogus'/);
    const missing = await berth(['run', 'busybox', '--memory']);
    // passThroughOptions: flags after the image belong to the command, so put it before.
    const before = await berth(['run', '--memory']);
    assert.equal(before.code, 125);
    assert.match(before.stderr, /--memory/);
    assert.equal(
      missing.code,
      125,
      'flags after the image go to the container command; the agent is then unreachable',
    );
  });

  it('usage errors of a verb exit 125 too, and -i/-t say why they are refused', async () => {
    const unknown = await berth(['run', '--foo', 'busybox']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /unknown option '--foo'/);
    for (const args of [
      ['run', '-it', 'busybox', 'sh'],
      ['run', '-d', '--tty', 'busybox'],
      ['create', '-i', 'busybox'],
    ]) {
      const r = await berth(args);
      assert.equal(r.code, 125, args.join(' '));
      assert.match(
        r.stderr,
        /^berth: -[it]\/--(interactive|tty): not supported: berth attaches a container's output/m,
      );
      assert.doesNotMatch(r.stderr, /cannot reach the berth agent/, 'refused before the agent is asked');
    }
  });

  it('rejects a bad --tail value naming the flag', async () => {
    const r = await berth(['logs', 'web', '--tail', 'lots']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /-n\/--tail: must be a number or "all", got "lots"/);
  });

  it('says where it looked when the agent is not running', async () => {
    const r = await berth(['ps']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /cannot reach the berth agent at \/nonexistent\/berth\.sock/);
  });
});

describe('--env-file', () => {
  it("reads Docker's format: comments and blanks skipped, values as written, a bare name from the shell", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-envfile-'));
    try {
      const f = join(dir, 'a.env');
      writeFileSync(f, '# c\n\n  A=1\nB= spaced value \nC=x=y\nSET\nUNSET\n');
      assert.deepEqual(envFiles([f], { SET: 'from shell' }), [
        'A=1',
        'B= spaced value ',
        'C=x=y',
        'SET=from shell',
      ]);
      writeFileSync(f, 'GOOD=1\nBAD KEY=2\n');
      assert.throws(() => envFiles([f], {}), /--env-file: .*a\.env line 2: "BAD KEY" is not a variable name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('run flags → create request', () => {
  it('keeps values in the user notation and collects repeated flags', () => {
    const req = buildCreateRequest('busybox', ['echo', 'hi'], {
      env: ['A=1', 'B=2'],
      publish: ['8080:80'],
      label: ['tier=web', 'empty'],
      memory: '64m',
      rm: true,
      healthCmd: 'true',
      healthRetries: '2',
      entrypoint: '',
    });
    assert.deepEqual(req, {
      image: 'busybox',
      cmd: ['echo', 'hi'],
      env: ['A=1', 'B=2'],
      ports: ['8080:80'],
      labels: { tier: 'web', empty: '' },
      memory: '64m',
      entrypoint: [],
      healthcheck: { test: ['CMD-SHELL', 'true'], retries: '2' },
      autoRemove: true,
    });
  });

  it('maps a field in an API error back to the flag the user typed', () => {
    assert.equal(
      nameFlagInMessage('ports[0]: "80:x" is not a port'),
      '-p/--publish (ports[0]): "80:x" is not a port',
    );
    assert.equal(nameFlagInMessage('memory: must be a size'), '-m/--memory (memory): must be a size');
    assert.equal(nameFlagInMessage('no such container: x'), 'no such container: x');
  });
});

describe('the berth command (src/bin/berth, the package bin)', () => {
  const command = fileURLToPath(new URL('../../../src/bin/berth', import.meta.url));
  // Node warns on stderr when it cannot load this file: the warning shows who kept the variable.
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/extra-ca.pem', BERTH_FROM_SOURCE: '0' };
  const run = async (cmd: string, args: string[]) => {
    try {
      const r = await promisify(execFile)(cmd, args, { env });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('does not read NODE_EXTRA_CA_CERTS at start (Node 24 reads it at the first TLS connection only)', async () => {
    const r = await run(command, ['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
    assert.doesNotMatch(r.stderr, /extra certs/);
  });

  it('passes NODE_EXTRA_CA_CERTS to the CLI, which trusts it for a TLS API (BERTH_TLS=1), and to the agent', async () => {
    // Port 1 on loopback refuses at once; the TLS context (and so the extra certs) is made first.
    const cli = await promisify(execFile)(command, ['ps'], {
      env: { ...env, BERTH_TLS: '1', BERTH_HOST: 'tcp://127.0.0.1:1', BERTH_TOKEN: 't' },
    }).catch((e: { code: number; stderr: string }) => e);
    assert.match(cli.stderr, /Ignoring extra certs from `\/nonexistent\/extra-ca.pem`/);
    const agent = await run(command, ['agent', '--help']);
    assert.equal(agent.code, 0);
    assert.match(agent.stdout, /--state-root/);
  });

  it('works through a symlink, as npm link and npm install -g put it on the PATH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bin-'));
    try {
      symlinkSync(command, join(dir, 'berth'));
      const r = await run(join(dir, 'berth'), ['--version']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), pkg.version);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('src/bin/berth.js: the compiled CLI or the sources', () => {
  // A copy of the launcher in a tree of its own, whose "CLI" says which copy ran.
  const setUp = async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-launch-'));
    const put = (rel: string, text: string, ageS: number) => {
      const p = join(root, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
      const t = Date.now() / 1000 - ageS;
      utimesSync(p, t, t);
    };
    const say = (who: string) =>
      `export async function main(argv: string[]) { process.stdout.write('${who} ' + argv.join(' ')); return 0; }\n`;
    put('src/cli/main.ts', say('sources'), 100);
    put('runtime/exec/a.ts', 'export {};\n', 100);
    put('sidecar/logs/b.ts', 'export {};\n', 100);
    put('dist/src/cli/main.js', say('dist').replace(': string[]', ''), 50);
    put('dist/.build-stamp', '', 50);
    put('package.json', '{ "type": "module" }\n', 100);
    mkdirSync(join(root, 'src/bin'), { recursive: true });
    copyFileSync(bin, join(root, 'src/bin/berth.js'));
    symlinkSync(fileURLToPath(new URL('../../../node_modules', import.meta.url)), join(root, 'node_modules'));
    const launch = async (args: string[]) => {
      const env = { ...process.env };
      delete env.BERTH_FROM_SOURCE;
      const r = await promisify(execFile)(process.execPath, [join(root, 'src/bin/berth.js'), ...args], {
        env,
      });
      return r.stdout;
    };
    const touch = (rel: string, aheadS = 0) => {
      const t = Date.now() / 1000 + aheadS;
      utimesSync(join(root, rel), t, t);
    };
    return { root, launch, touch };
  };

  it('runs dist/ when the build is newer than every source, and the sources once one is edited', async () => {
    const t = await setUp();
    try {
      assert.equal(await t.launch(['ps']), 'dist ps');
      t.touch('src/cli/main.ts');
      assert.equal(await t.launch(['ps']), 'sources ps');
    } finally {
      rmSync(t.root, { recursive: true, force: true });
    }
  });

  it('checks runtime/ and sidecar/ only for `berth agent`, the one verb that loads them', async () => {
    const t = await setUp();
    try {
      t.touch('runtime/exec/a.ts');
      assert.equal(await t.launch(['ps']), 'dist ps');
      assert.equal(await t.launch(['agent']), 'sources agent');
      t.touch('dist/.build-stamp');
      t.touch('sidecar/logs/b.ts', 1);
      assert.equal(await t.launch(['agent']), 'sources agent');
    } finally {
      rmSync(t.root, { recursive: true, force: true });
    }
  });
});
