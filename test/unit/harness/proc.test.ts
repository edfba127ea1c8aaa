import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, freePorts } from '../../harness/ports.js';
import { type ManagedProcess, pollUntil, startProcess } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const execFileAsync = promisify(execFile);
const procTs = fileURLToPath(new URL('../../harness/proc.js', import.meta.url)).replace(/\.js$/, '.ts');

/** Gone, or a zombie waiting for init to reap it: either way no longer running. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('harness: processes and ports', () => {
  const started: ManagedProcess[] = [];
  after(async () => {
    for (const p of started) await p.stop('SIGKILL', 1000);
  });

  it('hands out distinct free loopback ports', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const ports = await freePorts(5);
    assert.equal(new Set(ports).size, 5);
  });

  it('waits for readiness, keeps output and stops with SIGTERM', async () => {
    let polls = 0;
    const p = await startProcess({
      name: 'echoer',
      cmd: process.execPath,
      args: ['-e', "console.log('hello out'); console.error('hello err'); setInterval(() => {}, 1000)"],
      ready: async () => ++polls >= 3,
    });
    started.push(p);
    assert.ok(polls >= 3);
    await pollUntil('output', async () => (p.output().includes('hello err') ? true : undefined), 5000, 50);
    assert.match(p.output(), /hello out/);
    await p.stop();
    assert.deepEqual(await p.exited, { code: null, signal: 'SIGTERM' });
    assert.equal(running(p.pid), false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const dir = await tempDir('proc-test');
    const marker = join(dir, 'armed');
    const p = await startProcess({
      name: 'stubborn',
      cmd: process.execPath,
      args: [
        '-e',
        `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(marker)}, ''); setInterval(() => {}, 1000)`,
      ],
      ready: async () => existsSync(marker),
    });
    await removeDir(dir);
    started.push(p);
    const t0 = Date.now();
    await p.stop('SIGTERM', 300);
    assert.equal((await p.exited).signal, 'SIGKILL');
    assert.ok(Date.now() - t0 < 3000);
  });

  it('reports a process that exits before it is ready, with its output', async () => {
    await assert.rejects(
      startProcess({
        name: 'quitter',
        cmd: process.execPath,
        args: ['-e', "console.error('bad flag'); process.exit(3)"],
        ready: async () => false,
        readyTimeoutMs: 5000,
      }),
      /quitter exited before it was ready \(code 3[\s\S]*bad flag/,
    );
  });

  it('kills what a test file forgot to stop when that process exits', async () => {
    const script = `
      import { startProcess } from ${JSON.stringify(procTs)};
      const p = await startProcess({ name: 'orphan', cmd: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] });
      console.log(p.pid);
    `;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        timeout: 20_000,
      },
    );
    const pid = Number(stdout.trim());
    assert.ok(pid > 0, `pid from child: ${stdout}`);
    await pollUntil(`pid ${pid} gone`, async () => (running(pid) ? undefined : true), 5000, 50);
  });
});
