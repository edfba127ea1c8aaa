/**
 * Issue 12, item 14: Ctrl-C on a foreground agent signals its whole process
 * group. HAProxy runs in its own session, so it outlives the agent as the
 * containers do (the next agent adopts it), and nothing is restarted while
 * the agent shuts down.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('haproxy: Ctrl-C on a foreground agent', { timeout: 90_000 }, () => {
  let agent: TestAgent | undefined;
  let haproxyPid: number | undefined;

  before(async () => {
    // Its own process group, as `npm start` in a terminal is the foreground group; info level shows "shutting down".
    agent = await startAgent({ detached: true, args: ['--log-level', 'info'] });
    const pidFile = join(agent.stateRoot, 'haproxy', 'haproxy.pid');
    haproxyPid = await pollUntil(
      'the agent started HAProxy',
      async () => {
        const pid = Number((await readFile(pidFile, 'utf8')).trim());
        return pid > 0 && alive(pid) ? pid : undefined;
      },
      15_000,
      100,
    );
  });

  after(async () => {
    // The agent leaves HAProxy running on purpose; this one is ours to stop, by its PID.
    if (haproxyPid !== undefined && alive(haproxyPid)) process.kill(haproxyPid, 'SIGKILL');
    await agent?.stop();
  });

  test('SIGINT to the process group stops the agent; HAProxy keeps running and is not restarted', async () => {
    if (agent === undefined || haproxyPid === undefined) throw new Error('setup failed');
    const proc = agent.process();
    process.kill(-proc.pid, 'SIGINT');
    await pollUntil(
      'the agent to exit',
      async () => ((await Promise.race([proc.exited, sleep(100)])) ? true : undefined),
      20_000,
      100,
    );
    // Longer than the restart backoff (200 ms): a restart would have happened by now.
    await sleep(1000);
    const out = proc.output();
    const shutdown = out.indexOf('shutting down');
    assert.ok(shutdown >= 0, `no "shutting down" in the agent's output:\n${out.slice(-3000)}`);
    assert.doesNotMatch(
      out.slice(shutdown),
      /restart/i,
      `something restarted during shutdown:\n${out.slice(shutdown)}`,
    );
    assert.ok(alive(haproxyPid), `HAProxy (pid ${haproxyPid}) died with the agent's process group`);
    const pidNow = Number((await readFile(join(agent.stateRoot, 'haproxy', 'haproxy.pid'), 'utf8')).trim());
    assert.equal(pidNow, haproxyPid, 'HAProxy was replaced by another master');
  });
});
