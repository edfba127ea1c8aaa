/**
 * Issue 12 item 8: a container's log file is bounded on disk by default.
 * An agent started without `--log-max-size` runs a container that prints
 * more than the default bound (10 MiB); the file at the log path stays at
 * most the bound (conmon rotates), and `berth logs --tail` still shows the
 * last lines.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { agentWithImage, IMAGE, ok } from './e2e.js';

const BOUND = 10 * 1024 * 1024;
// 70,000 lines of 201 bytes: 14 MB of output, ~17 MB in k8s-file form.
const LINES = 70_000;

describe('container log files are bounded on disk by default', () => {
  let agent: TestAgent | undefined;
  before(async () => {
    agent = await agentWithImage();
  });
  after(async () => {
    await agent?.stop();
  });

  test('a container printing 14 MB leaves a log file of at most 10 MiB, and --tail still works', async (t) => {
    assert.ok(agent);
    const a = agent;
    const name = `bound-${process.pid}`;
    const script = `yes "$(printf '%0199d' 0)" | head -n ${LINES - 1}; echo last-line`;
    await ok(a, ['run', '-d', '--name', name, IMAGE, 'sh', '-c', script]);
    await pollUntil(
      'the container exits',
      async () => {
        const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ state?: string }>;
        return d?.state === 'exited' ? true : undefined;
      },
      60_000,
      200,
    );
    const [d] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ logPath?: string }>;
    assert.ok(d?.logPath, 'inspect names the log path');
    const size = (await stat(d.logPath)).size;
    let total = 0;
    const dir = dirname(d.logPath);
    for (const f of await readdir(dir)) {
      const st = await stat(join(dir, f)).catch(() => undefined);
      if (st?.isFile() && f.includes('log')) total += st.size;
    }
    t.diagnostic(`log file ${size} bytes, all log files in ${dir}: ${total} bytes`);
    assert.ok(size <= BOUND, `the log file is ${size} bytes, over the default bound of ${BOUND}`);
    const tail = await a.cli(['logs', '--tail', '2', name]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(tail.stdout.split('\n').filter(Boolean), ['0'.repeat(199), 'last-line']);
    await ok(a, ['rm', '-f', name]);
  });
});
