/**
 * berth runs on Node.js >= 24 even where the machine's `node` is older (issue
 * 17): the agent, the CLI, the test runner and a benchmark each report the
 * Node they run on, started the way a user starts them, with a `node` first on
 * PATH that notes every use and then runs the machine's own node. Only npm
 * (which comes from the machine) and the set-up's version probes may use it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const major = (v: string) => Number(/^v?(\d+)\./.exec(v)?.[1] ?? 0);

describe('the Node.js berth runs on', () => {
  let dir = '';
  let env: Record<string, string> = {};
  let agent: TestAgent | undefined;
  // Children of this runner inherit NODE_TEST_CONTEXT, which would make a nested runner report to us.
  const childEnv = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete e.NODE_TEST_CONTEXT;
    return e;
  };
  const used = () => readFileSync(join(dir, 'uses'), 'utf8').split('\n').filter(Boolean);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-node-runtime-'));
    const machineNode = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    // The shim is what PATH finds first: it notes its arguments, then runs the machine's node.
    writeFileSync(join(dir, 'uses'), '');
    writeFileSync(
      join(dir, 'node'),
      `#!/bin/sh\necho "$*" >> ${join(dir, 'uses')}\nexec ${machineNode} "$@"\n`,
    );
    chmodSync(join(dir, 'node'), 0o755);
    env = { PATH: `${dir}:${process.env.PATH ?? ''}` };
    delete process.env.BERTH_NODE;
    agent = await startAgent({ viaCommand: true, agentEnv: env });
  });
  after(async () => {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports what PATH holds (context for the figures below)', (t) => {
    const v = execFileSync(join(dir, 'node'), ['--version'], { encoding: 'utf8' }).trim();
    t.diagnostic(`node on PATH: ${v}`);
    writeFileSync(join(dir, 'uses'), '');
  });

  it('the test runner itself is Node >= 24', () => {
    assert.ok(major(process.version) >= 24, `runner is ${process.version}`);
  });

  it('the agent started by the berth command and the CLI are Node >= 24', async () => {
    assert.ok(agent);
    const r = await agent.cli(['version', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { node: string; agent: { node: string } };
    assert.ok(major(v.node) >= 24, `CLI on ${v.node}`);
    assert.ok(major(v.agent.node) >= 24, `agent on ${v.agent.node}`);
    assert.deepEqual(used(), [], 'the CLI or the agent ran on PATH’s node');
  });

  it('test/run.sh runs the suite on Node >= 24', async () => {
    const r = await promisify(execFile)('bash', ['test/run.sh', 'test/fixtures/node-runtime/probe.test.ts'], {
      cwd: ROOT,
      env: childEnv(),
    });
    const v = /runner-node=(v\S+)/.exec(r.stdout)?.[1] ?? '';
    assert.ok(major(v) >= 24, `runner reported ${JSON.stringify(v)}`);
    assert.deepEqual(used(), [], 'test/run.sh ran on PATH’s node');
  });

  it('npm run bench runs the benchmark on Node >= 24 and says so', async () => {
    const r = await promisify(execFile)('npm', ['run', '--silent', 'bench', '--', 'cli-start', '2'], {
      cwd: ROOT,
      env: childEnv(),
      maxBuffer: 1 << 20,
    });
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(last.bench, 'cli-start');
    assert.ok(major(String(last.node)) >= 24, `bench ran on ${String(last.node)}`);
    assert.equal(typeof last.node_extra_ca_certs, 'boolean');
    // PATH's node ran npm itself and the set-up's version probes, nothing of berth's.
    const other = used().filter((l) => !/^\S*\bnpm(-cli\.js)? |^-p process\.versions/.test(l));
    assert.deepEqual(other, [], `something other than npm ran on PATH’s node: ${other.join(' | ')}`);
  });
});
