import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  cgroupHierarchies,
  deleteRule,
  dropSharedChainsIfUnusedNow,
  iptablesRules,
  leaseSubnet,
  removeEmptyBerthCgroupsNow,
  requireRoot,
  sharedCleanupDeferred,
} from './host-shared.js';
import { killOnExit, type ManagedProcess, startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'src/bin/berth.js');
/** The `berth` command as installed (package.json "bin"): a sh launcher in front of BIN. */
const COMMAND = join(ROOT, 'src/bin/berth');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A berth agent started by a test in its own state root, run dir, socket, bridge and subnet. */
export interface TestAgent {
  readonly stateRoot: string;
  readonly runDir: string;
  readonly socket: string;
  readonly bridge: string;
  readonly subnet: string;
  /** Environment for CLI calls (BERTH_SOCKET). */
  readonly env: Record<string, string>;
  process(): ManagedProcess;
  /** Runs `berth ARGS` against this agent. */
  cli(
    args: string[],
    opts?: { input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<CliResult>;
  /** `berth info` as JSON (endpoints: dns, metrics, …). */
  info(): Promise<Record<string, unknown>>;
  /** SIGKILL the agent (containers keep running) and wait for it to be gone. */
  kill9(): Promise<void>;
  /** Start the agent again on the same state (live restore); `agentEnv` replaces the start's. */
  restart(opts?: { agentEnv?: Record<string, string> }): Promise<void>;
  /** Removes every container, stops the agent, removes the bridge, chains and state. */
  stop(): Promise<void>;
}

/**
 * Starts `berth agent` as a child process. Each call gets a unique bridge
 * (`bt<hex>`) and a leased /24 from 10.215.0.0/16 (host-shared.ts), so test
 * files running at the same time never collide with each other or with a
 * berth the machine runs.
 */
export async function startAgent(
  opts: {
    args?: string[];
    config?: Record<string, Record<string, unknown>>;
    /** Options for the agent's node process (e.g. --cpu-prof when profiling a bench). */
    nodeArgs?: string[];
    /** The socket inside the run dir, as in the default layout (/run/berth/berth.sock). */
    socketInRunDir?: boolean;
    /** Extra environment for the agent process (e.g. a test hook). */
    agentEnv?: Record<string, string>;
    /** The agent in its own process group (pgid = its pid), for tests that signal the group as Ctrl-C does. */
    detached?: boolean;
    /**
     * Start it as a user does, through the `berth` command (src/bin/berth, which picks the Node),
     * instead of this runner's node; `nodeArgs` do not apply then.
     */
    viaCommand?: boolean;
  } = {},
): Promise<TestAgent> {
  requireRoot('startAgent (a berth agent)');
  const dir = await tempDir('berth-agent-');
  const tag = randomBytes(3).toString('hex');
  const bridge = `bt${tag}`;
  // Leased, so agents of files running at the same time never share a subnet.
  const lease = await leaseSubnet();
  const subnet = lease.subnet;
  const stateRoot = join(dir, 'state');
  const runDir = join(dir, 'run');
  const socket = opts.socketInRunDir ? join(runDir, 'berth.sock') : join(dir, 'berth.sock');
  const env = { BERTH_SOCKET: socket };
  // Sections of the agent's config file; the HAProxy exporter gets a free port so agents never collide.
  const { freePort } = await import('./ports.js');
  const { writeFile } = await import('node:fs/promises');
  const config = {
    ...opts.config,
    haproxy: { exporterListen: `127.0.0.1:${await freePort()}`, ...opts.config?.haproxy },
  };
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(config));
  // BERTH_AGENT_NODE_ARGS adds node options to every agent a test or benchmark starts
  // (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a benchmark's agent).
  const envNodeArgs = (process.env.BERTH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const agentArgs = [
    ...envNodeArgs,
    ...(opts.nodeArgs ?? []),
    BIN,
    'agent',
    '--state-root',
    stateRoot,
    '--run-dir',
    runDir,
    '--socket',
    socket,
    '--bridge',
    bridge,
    '--subnet',
    subnet,
    '--log-level',
    'warn',
    '--config',
    configPath,
    // Free ports: tests run beside whatever the machine serves on 53 and 9338.
    '--dns-listen',
    '127.0.0.1:0',
    '--metrics-listen',
    '127.0.0.1:0',
    // Each agent its own dashboard port (the default 7080 is one per host).
    '--dashboard',
    '127.0.0.1:0',
    ...(opts.args ?? []),
  ];
  let agentEnv = opts.agentEnv;
  const launch = () =>
    startProcess({
      name: 'berth-agent',
      ...(opts.viaCommand
        ? { cmd: COMMAND, args: agentArgs.slice(agentArgs.indexOf(BIN) + 1) }
        : { cmd: process.execPath, args: agentArgs }),
      ...(agentEnv ? { env: agentEnv } : {}),
      ...(opts.detached ? { detached: true } : {}),
      ready: async () => existsSync(socket) && (await cli(['info'])).code === 0,
      readyTimeoutMs: 30_000,
    });
  const cli = (
    args: string[],
    o: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<CliResult> => runCli(args, { ...env, ...o.env }, o);
  const trackHaproxy = async () => {
    const { readFile } = await import('node:fs/promises');
    for (let i = 0; i < 20; i++) {
      const pid = Number(
        (await readFile(join(stateRoot, 'haproxy', 'haproxy.pid'), 'utf8').catch(() => '')).trim(),
      );
      if (pid > 0) return killOnExit(pid, 'berth-agent haproxy');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let proc: ManagedProcess;
  try {
    proc = await launch();
  } catch (err) {
    await lease.release();
    throw err;
  }
  await trackHaproxy();
  return {
    stateRoot,
    runDir,
    socket,
    bridge,
    subnet,
    env,
    process: () => proc,
    cli,
    async info() {
      const r = await cli(['info']);
      if (r.code !== 0) throw new Error(`berth info: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    },
    async kill9() {
      process.kill(proc.pid, 'SIGKILL');
      // The harness does not let children hold the loop open, so poll with a timer.
      const timer = setInterval(() => undefined, 50);
      try {
        await proc.exited;
      } finally {
        clearInterval(timer);
      }
    },
    async restart(o = {}) {
      if (o.agentEnv) agentEnv = o.agentEnv;
      proc = await launch();
      await trackHaproxy();
    },
    async stop() {
      try {
        const ps = await cli(['ps', '-a', '-q']);
        const ids = ps.stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await cli(['rm', '-f', ...ids]);
      } catch {
        // the agent may be down; the state dir goes anyway
      }
      await proc.stop('SIGTERM', 10_000);
      await sweep(dir, runDir, bridge);
      await removeDir(dir);
      await lease.release();
    },
  };
}

/** Runs the CLI as a user would (a fresh node process). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(COMMAND, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? 128, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

function sh(cmd: string, args: string[]): Promise<number> {
  return new Promise((r) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.once('error', () => r(1));
    c.once('close', (code) => r(code ?? 1));
  });
}

/**
 * The cgroup parent every berth container shares (`/berth` in each hierarchy),
 * removed once empty so a test run leaves no cgroup behind; one that still has
 * containers (another agent's) refuses the rmdir and stays. Under test/run.sh
 * this waits for the end of the run (host-shared.ts says why).
 */
export async function removeEmptyBerthCgroups(): Promise<void> {
  if (!sharedCleanupDeferred()) await removeEmptyBerthCgroupsNow();
}

/**
 * Undoes what an agent (or an in-process runtime, test/harness/runtime.ts) left under `dir`: its
 * containers, netns, veths, cgroups, iptables rules, bridge and mounts. Tolerates what is gone.
 */
export async function sweep(dir: string, runDir: string, bridge: string): Promise<void> {
  const { readdir, readFile, rmdir } = await import('node:fs/promises');
  // The agent leaves its HAProxy running on purpose (it outlives the agent, like containers).
  const haproxyPid = Number(
    (await readFile(join(dir, 'state', 'haproxy', 'haproxy.pid'), 'utf8').catch(() => '')).trim(),
  );
  if (haproxyPid > 0) {
    try {
      process.kill(haproxyPid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const runcRoot = join(runDir, 'exec', 'runtime');
  const ids = await readdir(runcRoot).catch(() => [] as string[]);
  for (const id of ids) {
    await sh('runc', ['--root', runcRoot, 'kill', id, 'KILL']);
    await sh('runc', ['--root', runcRoot, 'delete', '--force', id]);
  }
  const known = new Set([
    ...ids,
    ...(await readdir(join(dir, 'state', 'containers')).catch(() => [] as string[])),
  ]);
  for (const id of known) {
    await sh('ip', ['netns', 'del', `berth-${id.slice(0, 12)}`]);
    await sh('ip', ['link', 'del', `vb${id.slice(0, 12)}`]);
    for (const h of await cgroupHierarchies()) await rmdir(join(h, 'berth', id)).catch(() => undefined);
  }
  await removeEmptyBerthCgroups();
  // User-defined networks the test left (runtime/network registry): their bridges and rules too.
  const netDir = join(dir, 'state', 'network', 'networks');
  const bridges = [bridge];
  for (const name of await readdir(netDir).catch(() => [] as string[])) {
    const def = await readFile(join(netDir, name, 'network.json'), 'utf8').catch(() => '');
    const b = /"bridge":\s*"(bn-[0-9a-f]{12})"/.exec(def)?.[1];
    if (b) bridges.push(b);
  }
  for (const table of ['nat', 'filter']) {
    const rules = await iptablesRules(table);
    for (const line of rules.split('\n')) {
      if (!line.startsWith('-A ') || !bridges.some((b) => line.includes(`berth:${b}`))) continue;
      await deleteRule(table, line);
    }
  }
  for (const b of bridges) await sh('ip', ['link', 'del', b]);
  if (!sharedCleanupDeferred()) await dropSharedChainsIfUnusedNow();
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await sh('umount', ['-l', m]);
}
