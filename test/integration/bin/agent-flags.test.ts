/**
 * src/bin/berth.js starts `berth agent` with V8 flags that keep its memory
 * down (--max-semi-space-size=1), by re-executing itself once in the same
 * pid; the short verbs run as they are. Observed from outside: a preload
 * that records each process image's pid and node flags, /proc/<pid>/cmdline
 * and environ of a real agent, and its heap on /metrics.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const BIN = resolve(import.meta.dirname, '../../../src/bin/berth.js');

/** Runs berth.js with a preload that appends "pid execArgv" for every process image it runs in. */
async function images(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const dir = await tempDir('berth-flags-');
  try {
    const out = join(dir, 'images.txt');
    const preload = join(dir, 'record.mjs');
    writeFileSync(out, '');
    writeFileSync(
      preload,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(out)}, process.pid + ' ' + process.execArgv.filter((a) => !a.startsWith('--import')).join(',') + '\\n');\n`,
    );
    const r = await promisify(execFile)(process.execPath, [...nodeArgs, '--import', preload, BIN, ...args], {
      env: { ...process.env, ...env },
    }).catch((e: { stdout: string; code: number }) => e);
    return readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [pid, flags] = l.split(' ');
        return {
          pid: Number(pid),
          flags: (flags ?? '').split(',').filter((f) => f !== '' && !f.endsWith('.mjs')),
        };
      })
      .map((x) => ({ ...x, stdout: r.stdout }));
  } finally {
    await removeDir(dir);
  }
}

describe('node flags of berth agent (src/bin/berth.js)', () => {
  it('a short verb runs once, with no flags added', async () => {
    const runs = await images(['version']);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    assert.deepEqual(runs[0]?.flags, []);
  });

  it('berth agent --help is not re-executed either', async () => {
    const runs = await images(['agent', '--help']);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    assert.match(runs[0]?.stdout ?? '', /Usage: berth agent/);
  });

  it('berth agent re-executes once, in the same pid, with --max-semi-space-size=1', async () => {
    // --check-config exits after validating, so no agent is left running.
    const runs = await images(['agent', '--check-config', '--state-root', '/nonexistent-berth-flags']);
    assert.equal(runs.length, 2, JSON.stringify(runs));
    assert.equal(runs[0]?.pid, runs[1]?.pid);
    assert.deepEqual(runs[0]?.flags, []);
    assert.deepEqual(runs[1]?.flags, ['--max-semi-space-size=1']);
  });

  it('BERTH_AGENT_V8_FLAGS replaces the list, and empty means none', async () => {
    const none = await images(['agent', '--check-config'], { BERTH_AGENT_V8_FLAGS: '' });
    assert.equal(none.length, 1, JSON.stringify(none));
    const other = await images(['agent', '--check-config'], {
      BERTH_AGENT_V8_FLAGS: '--max-semi-space-size=2',
    });
    assert.deepEqual(other[1]?.flags, ['--max-semi-space-size=2']);
  });

  it('a --max-semi-space-size given to node wins (benchmarks, operators)', async () => {
    const runs = await images(['agent', '--check-config'], {}, ['--max-semi-space-size=4']);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    assert.deepEqual(runs[0]?.flags, ['--max-semi-space-size=4']);
  });

  it('the agent keeps no compile cache (its buffers would stay resident), the short verbs do', async () => {
    const cache = await tempDir('berth-flags-cache-');
    try {
      await images(['agent', '--check-config'], { BERTH_CACHE: cache });
      assert.equal(existsSync(join(cache, 'compile-cache')), false);
      await images(['version'], { BERTH_CACHE: cache });
      assert.equal(existsSync(join(cache, 'compile-cache')), true);
    } finally {
      await removeDir(cache);
    }
  });
});

describe('a real agent started through berth.js', () => {
  let agent: TestAgent | undefined;
  after(async () => {
    await agent?.stop();
  });

  it('runs with the flag in its own pid and its idle heap stays small', async () => {
    agent = await startAgent();
    const pid = agent.process().pid;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const script = argv.findIndex((a) => a.endsWith('berth.js'));
    assert.ok(argv.slice(1, script).includes('--max-semi-space-size=1'), argv.join(' '));
    assert.equal(argv[script + 1], 'agent');
    const url = String(((await agent.info()).endpoints as Record<string, string>).metrics);
    const body = await (await fetch(url)).text();
    const heapTotal = Number(/^berth_nodejs_heap_size_total_bytes (\S+)/m.exec(body)?.[1]);
    // V8's default young generation alone makes an idle agent's heap ~64 MB; with 1 MB semi-spaces ~37 MB.
    assert.ok(heapTotal > 0 && heapTotal < 52 * 1048576, `heap total ${heapTotal}`);
  });
});
