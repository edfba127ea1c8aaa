/**
 * The main job (issue 15): `npm start` as the README says, on private ports
 * and directories. It sets up, starts the agent, brings up the demo project
 * and prints where to look; every printed endpoint must answer as printed
 * (the curl line through HAProxy, the dig line, /metrics, the dashboard's
 * login URL, the services and logs commands). Ctrl-C stops the agent and says
 * what keeps running and how to remove the demo; following that note removes
 * it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli, sweep } from '../../harness/agent.js';
import { leaseSubnet, requireRoot, type SubnetLease } from '../../harness/host-shared.js';
import { freePorts } from '../../harness/ports.js';
import { type ManagedProcess, pollUntil, startProcess } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

describe('npm start: the agent and the demo, every printed endpoint answers', () => {
  let dir = '';
  let lease: SubnetLease | undefined;
  let bridge = '';
  let env: Record<string, string> = {};
  let configPath = '';
  let npm: ManagedProcess | undefined;
  let printed = '';

  before(async () => {
    requireRoot('npm start (a berth agent)');
    dir = await tempDir('berth-npm-start-');
    lease = await leaseSubnet();
    bridge = `bt${randomBytes(3).toString('hex')}`;
    const [metrics, dns, web, dashboard, exporter] = await freePorts(5);
    configPath = join(dir, 'agent.json');
    await writeFile(configPath, JSON.stringify({ haproxy: { exporterListen: `127.0.0.1:${exporter}` } }));
    env = {
      BERTH_SOCKET: join(dir, 'berth.sock'),
      BERTH_STATE_ROOT: join(dir, 'state'),
      BERTH_RUN_DIR: join(dir, 'run'),
      BERTH_BRIDGE: bridge,
      BERTH_SUBNET: lease.subnet,
      BERTH_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      BERTH_DNS_LISTEN: `127.0.0.1:${dns}`,
      BERTH_DASHBOARD: `127.0.0.1:${dashboard}`,
      DEMO_PORT: String(web),
    };
    // As the README says: `npm start` (extra agent flags after `--`), its own process group as a terminal's.
    npm = await startProcess({
      name: 'npm-start',
      cmd: 'npm',
      args: ['start', '--silent', '--', '--config', configPath],
      cwd: ROOT,
      env,
      detached: true,
    });
    const started = npm;
    printed = await pollUntil(
      'npm start to print the demo banner',
      async () => {
        const out = started.output();
        return /demo project "demo" is up[\s\S]*remove .*\n|demo: not started.*\n/.test(out)
          ? out
          : undefined;
      },
      240_000,
    );
  });

  after(async () => {
    if (npm) await npm.stop('SIGKILL', 5_000);
    // What the stop note says to do, done here too in case a test failed before it.
    const again = await startProcess({
      name: 'berth-agent-cleanup',
      cmd: join(ROOT, 'src/bin/berth'),
      args: ['agent', '--config', configPath],
      env: { ...env, BERTH_DEMO: '0' },
      ready: async () => (await runCli(['info'], env)).code === 0,
      readyTimeoutMs: 30_000,
    }).catch(() => undefined);
    if (again) {
      await runCli(['down', '-p', 'demo', '-v'], env, { timeoutMs: 60_000 });
      await again.stop('SIGTERM', 10_000);
    }
    if (dir) {
      await sweep(dir, join(dir, 'run'), bridge);
      await removeDir(dir);
    }
    await lease?.release();
  });

  /** A line of the demo's banner (the agent's own banner above it has dns/metrics lines too). */
  const line = (label: string): string => {
    const banner = printed.slice(printed.indexOf('demo project "demo" is up'));
    const m = new RegExp(`^\\s+${label}\\s+(.+)$`, 'm').exec(banner);
    assert.ok(m?.[1], `npm start printed no "${label}" line:\n${printed}`);
    return m[1].trim();
  };

  it('brings the demo up and prints where to look', () => {
    assert.match(printed, /demo project "demo" is up/, printed);
    for (const label of [
      'dashboard',
      'haproxy',
      'dns',
      'metrics',
      'services',
      'logs',
      'roll to v2',
      'remove',
    ]) {
      line(label);
    }
  });

  it('the HAProxy curl line answers from both web replicas', async () => {
    const url = /curl (http:\/\/\S+)/.exec(line('haproxy'))?.[1];
    assert.ok(url);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.match(body, /hello from .+, berth demo v1/);
      seen.add(body);
    }
    assert.equal(seen.size, 2, `round-robin over two replicas: ${[...seen].join(' / ')}`);
  });

  it('the dig line resolves the web service', async () => {
    const args = line('dns').split(/\s+/).slice(1);
    const { stdout } = await execFileAsync('dig', [...args, '+time=2', '+tries=2']);
    assert.match(stdout, /^\d+\.\d+\.\d+\.\d+$/m, `dig ${args.join(' ')} → ${stdout}`);
  });

  it('the /metrics line answers with the demo containers', async () => {
    const url = /curl -s (\S+)/.exec(line('metrics'))?.[1];
    assert.ok(url);
    const text = await (await fetch(url)).text();
    assert.match(text, /container_cpu_usage_seconds_total\{[^}]*name="demo-web-1"/);
  });

  it('the dashboard login URL logs in once', async () => {
    const url = line('dashboard');
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.match(res.headers.get('set-cookie') ?? '', /HttpOnly/i);
    const page = await fetch(new URL('/', url), {
      headers: { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '' },
    });
    assert.equal(page.status, 200);
  });

  it('the services and logs commands answer', async () => {
    const services = await runCli(['services', '-p', 'demo'], env);
    assert.equal(services.code, 0, services.stderr);
    assert.match(services.stdout, /web/);
    assert.match(services.stdout, /worker/);
    const logs = await pollUntil(
      'a worker JSON line',
      async () => {
        const r = await runCli(['logs', '-p', 'demo', 'worker'], env);
        return /processed job/.test(r.stdout) ? r : undefined;
      },
      20_000,
    );
    assert.match(logs.stdout, /demo-worker-1 \| \{"level":"info"/);
  });

  it('Ctrl-C stops the agent and says what keeps running and how to remove the demo', async () => {
    assert.ok(npm);
    process.kill(-npm.pid, 'SIGINT');
    // The agent's own words tell (npm exits 130 on SIGINT whatever its script did).
    const stopped = npm;
    await pollUntil(
      "the agent's stop note",
      async () => (/berth agent stopped/.test(stopped.output()) ? true : undefined),
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- output (tail) ---\n${stopped.output().slice(-3000)}`);
    });
    assert.match(npm.output(), /Still running .*"demo" project's containers and the managed HAProxy/s);
    assert.match(npm.output(), /berth down -p demo/);
    // The containers outlive the agent: the frontend still answers.
    const url = /curl (http:\/\/\S+)/.exec(line('haproxy'))?.[1];
    assert.ok(url);
    assert.equal((await fetch(url)).status, 200);
  });
});
