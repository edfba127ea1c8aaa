/**
 * Issue 12 item 12: an agent that dies between `runc start` and saving the
 * container's record must not leave an orphan whose network the next agent
 * tears down. The record says `starting` before the OCI runtime is asked;
 * restore resolves it against what runc reports. The crash is real: the test
 * hook BERTH_TEST_CRASH_AT makes the agent SIGKILL itself at that point.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';

const run = promisify(execFile);
const IMAGE = 'test/busybox-crash:1';
const SERVE = 'mkdir -p /www && echo hello-from-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www';
let agent: TestAgent | undefined;

async function ok(args: string[]): Promise<string> {
  const r = await (agent as TestAgent).cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface Desc {
  id: string;
  state: string;
  pid?: number;
  addresses: Record<string, string>;
  exitCode?: number;
}

async function inspect(name: string): Promise<Desc> {
  const [d] = JSON.parse(await ok(['inspect', name])) as Desc[];
  assert.ok(d, `inspect ${name} printed nothing`);
  return d;
}

/** Runs `berth run -d` with the crash hook armed, and waits for the agent to have killed itself. */
async function crashWhileStarting(at: string, args: string[]): Promise<void> {
  const a = agent as TestAgent;
  await a.process().stop('SIGTERM', 10_000);
  await a.restart({ agentEnv: { BERTH_TEST_CRASH_AT: at } });
  const r = await a.cli(['run', '-d', ...args]);
  assert.notEqual(r.code, 0, `the agent answered instead of crashing: ${r.stdout}`);
  const timer = setInterval(() => undefined, 50);
  try {
    await a.process().exited;
  } finally {
    clearInterval(timer);
  }
  assert.match(
    a.process().output(),
    /BERTH_TEST_CRASH_AT/,
    'the agent died at the hook, not of something else',
  );
  await a.restart({ agentEnv: { BERTH_TEST_CRASH_AT: '' } });
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

describe('a crash between runc start and the saved record', () => {
  before(async () => {
    agent = await startAgent();
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, config: { Env: ['PATH=/bin'] } });
    await ok(['load', '-i', tar]);
  });
  after(async () => {
    await agent?.stop();
  });

  test('after runc start: the next agent adopts the container as running and its network still works', async () => {
    const a = agent as TestAgent;
    await crashWhileStarting('after-runc-start', [
      '--name',
      'web',
      '--hostname',
      'web',
      IMAGE,
      'sh',
      '-c',
      SERVE,
    ]);
    const ready = await pollUntil(
      'the ready line',
      async () => /agent ready \(.*\)/.exec(a.process().output())?.[0],
      5000,
    );
    assert.match(ready, /\(1 running containers re-adopted/);
    const d = await inspect('web');
    assert.equal(d.state, 'running');
    const ip = Object.values(d.addresses)[0];
    assert.ok(ip, `web has an address: ${JSON.stringify(d.addresses)}`);
    assert.equal(await get(`http://${ip}/`), 'hello-from-web\n');
    // It is berth's container again: stop reaches it and reports the exit.
    await ok(['stop', '-t', '1', 'web']);
    assert.equal((await inspect('web')).state, 'exited');
    await ok(['rm', 'web']);
  });

  test('after runc create (never started): the half-made container is cleaned up, and restart=always brings it back', async () => {
    const a = agent as TestAgent;
    await crashWhileStarting('after-runc-create', ['--name', 'once', IMAGE, 'sleep', '600']);
    await crashWhileStarting('after-runc-create', [
      '--name',
      'always',
      '--hostname',
      'always',
      '--restart',
      'always',
      IMAGE,
      'sh',
      '-c',
      SERVE,
    ]);
    const once = await inspect('once');
    assert.equal(once.state, 'exited');
    // Nothing of it is left in the OCI runtime (no runc init waiting on its fifo).
    const runcRoot = join(a.runDir, 'exec', 'runtime');
    const listed = (await run('runc', ['--root', runcRoot, 'list', '-q'])).stdout.split('\n');
    assert.ok(!listed.includes(once.id), `runc still lists ${once.id}`);
    const back = await pollUntil(
      'always running again',
      async () => {
        const d = await inspect('always');
        return d.state === 'running' && Object.values(d.addresses)[0] ? d : undefined;
      },
      20_000,
    );
    assert.equal(await get(`http://${Object.values(back.addresses)[0]}/`), 'hello-from-always\n');
  });
});
