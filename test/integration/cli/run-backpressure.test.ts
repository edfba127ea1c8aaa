/**
 * Issue 12 item 11 against a real agent and container: a `run` client that
 * attaches and never reads while the container prints as fast as it can is
 * cut off with the reason logged; the agent does not buffer the output for
 * it, and other clients are answered meanwhile.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const IMAGE = 'test/busybox:bp';
let agent: TestAgent | undefined;
let dir: string;
let stalled: Socket | undefined;

async function rssBytes(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('attached run output and a client that does not read', () => {
  before(async () => {
    dir = await tempDir('cli-run-bp');
    agent = await startAgent();
    const r = await agent.cli([
      'load',
      '-i',
      await buildBusyboxImage({ format: 'oci', ref: IMAGE, outDir: dir }),
    ]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    stalled?.destroy();
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  test('the stalled run client is cut off; the agent holds no more than its bound; ps still answers', async (t) => {
    const a = agent as TestAgent;
    const pid = a.process().pid;
    const before = await rssBytes(pid);
    // 200 MB of output as fast as the container can write it (bounded, so a regression cannot eat the host).
    const body = JSON.stringify({
      image: IMAGE,
      name: 'spew',
      cmd: [
        'sh',
        '-c',
        'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000; sleep 60',
      ],
    });
    stalled = connect({ path: a.socket });
    await new Promise((r) => stalled?.once('connect', r));
    stalled.write(
      `POST /v1/containers/run?rm=1 HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    stalled.pause();
    let peak = before;
    const cutOff = await pollUntil(
      'the agent to cut the stalled run client off',
      async () => {
        peak = Math.max(peak, await rssBytes(pid));
        const out = a.process().output();
        return /"route":"\/v1\/containers\/run"[^\n]*event stream client cut off/.test(out) || undefined;
      },
      45_000,
      250,
    );
    assert.ok(cutOff);
    // Other clients are answered while the stalled one waits.
    const ps = await a.cli(['ps']);
    assert.equal(ps.code, 0, ps.stderr);
    peak = Math.max(peak, await rssBytes(pid));
    t.diagnostic(
      `agent RSS ${Math.round(before / 1048576)} MiB before, peak ${Math.round(peak / 1048576)} MiB`,
    );
    // 200 MB went through the log file; the agent may hold its 4 MiB bound plus a read chunk, not the output.
    assert.ok(
      peak - before < 48 * 1024 * 1024,
      `agent RSS grew by ${Math.round((peak - before) / 1048576)} MiB while the client did not read`,
    );
    assert.match(a.process().output(), /client too slow/);
  });
});
