import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiClient } from '../../../src/cli/client.js';
import { buildCli } from '../../../src/cli/program.js';
import { parseRunArgv, RUN_FLAGS } from '../../../src/cli/run-flags.js';

/** What commander's own `run` command makes of argv: the reference the fast path must match. */
async function viaCommander(argv: string[]): Promise<{ image: string; args: string[]; flags: unknown }> {
  const program = buildCli(() => new ApiClient({ socketPath: '/nonexistent/berth.sock' })).exitOverride();
  const run = program.commands.find((c) => c.name() === 'run');
  assert.ok(run);
  let got: { image: string; args: string[]; flags: unknown } | undefined;
  run.action((image: string, args: string[], flags: unknown) => {
    got = { image, args, flags };
  });
  await program.parseAsync(argv, { from: 'user' });
  assert.ok(got, 'commander did not reach the run action');
  return JSON.parse(JSON.stringify(got)) as { image: string; args: string[]; flags: unknown };
}

describe('berth run fast parser', () => {
  const same = [
    ['run', 'img'],
    ['run', '--rm', '--network', 'none', 'bench/busybox:1', 'echo', 'hi'],
    ['run', '-d', '--name', 'web', '-e', 'A=1', '-e', 'B=2', '-p', '8080:80', '-p', '9090:90/udp', 'img'],
    ['run', '--name=web', '--restart=always', 'img', 'sh', '-c', 'echo --rm -d'],
    ['run', '--no-healthcheck', '--read-only', '-m', '64m', '--memory-swap=-1', 'img'],
    ['run', 'img', '--rm', '-d', '--name', 'x'],
    ['run', '-l', 'a=b', '--label', 'c=d', '-u', '1000:1000', '-w', '/tmp', '--privileged', 'img'],
    ['run', '--health-cmd', 'true', '--health-retries', '3', '--health-start-period=5s', 'img'],
    ['run', '--cap-add', 'NET_ADMIN', '--cap-drop=ALL', '--security-opt', 'seccomp=unconfined', 'img'],
    ['run', '--entrypoint', '', '--name', 'a', '--name', 'b', 'img', ''],
    ['run', '-v', '/data:/data:ro', '--tmpfs', '/run', '--ulimit', 'nofile=10:20', 'img'],
    ['run', '--name=', '-e', 'A=-1', 'img', '-'],
  ];
  for (const argv of same) {
    it(`reads ${argv.join(' ')} as commander does`, async () => {
      const fast = parseRunArgv(argv);
      assert.ok(fast, 'fast path declined a plain spelling');
      assert.deepEqual(JSON.parse(JSON.stringify(fast)), await viaCommander(argv));
    });
  }

  it('leaves everything unusual to commander', () => {
    for (const argv of [
      ['run'],
      ['run', '--help'],
      ['run', '-h'],
      ['run', '-dit', 'img'],
      ['run', '--bogus', 'img'],
      ['run', '--name', '-x', 'img'],
      ['run', '--memory-swap', '-1', 'img'],
      ['run', '--memory'],
      ['run', '--', 'img'],
      ['run', 'img', 'sh', '--', 'x'],
      ['run', '--rm=yes', 'img'],
      ['run', '-eA=1', 'img'],
      ['run', '-d', '-'],
      ['run', '-dname', 'img'],
      ['ps'],
      ['create', 'img'],
    ]) {
      assert.equal(parseRunArgv(argv), undefined, argv.join(' '));
    }
  });

  it('knows every flag in the table (the table is the one source of run flags)', () => {
    for (const row of RUN_FLAGS) {
      const long = /--([a-z-]+)/.exec(row.flags)?.[1] ?? '';
      const argv = row.flags.includes('<') ? ['run', `--${long}`, 'v', 'img'] : ['run', `--${long}`, 'img'];
      assert.ok(parseRunArgv(argv), `fast path does not read ${row.flags}`);
    }
  });
});
