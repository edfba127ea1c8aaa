import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from './ports.js';
import { pollUntil, startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';
import { toolPath } from './tools.js';

export interface ConsulHandle {
  httpPort: number;
  /** Consul's own DNS server (UDP and TCP) on 127.0.0.1. */
  dnsPort: number;
  /** '127.0.0.1:<httpPort>', the form Consul clients and CONSUL_HTTP_ADDR take. */
  httpAddr: string;
  /** The agent's node name (unique per start; a shared agent's is the same for every file of the run). */
  nodeName: string;
  pid: number;
  output(): string;
  /** Stops an agent of the caller's own; for the run's shared agent (sharedConsul) nothing: test/run.sh stops it. */
  stop(): Promise<void>;
}

export interface StartConsulOptions {
  /** Default 20000: a dev agent elects itself in 1–3 s, slower on a loaded 2-core machine. */
  readyTimeoutMs?: number;
}

interface ConsulPorts {
  httpPort: number;
  dnsPort: number;
  serfLan: number;
  serfWan: number;
  serverPort: number;
}

async function pickPorts(): Promise<ConsulPorts> {
  const [httpPort, dnsPort, serfLan, serfWan, serverPort] = await freePorts(5);
  if (
    httpPort === undefined ||
    dnsPort === undefined ||
    serfLan === undefined ||
    serfWan === undefined ||
    serverPort === undefined
  ) {
    throw new Error('startConsul: not enough free ports');
  }
  return { httpPort, dnsPort, serfLan, serfWan, serverPort };
}

function consulArgs(p: ConsulPorts, nodeName: string): string[] {
  return [
    'agent',
    '-dev',
    '-node',
    nodeName,
    '-bind',
    '127.0.0.1',
    '-client',
    '127.0.0.1',
    '-http-port',
    String(p.httpPort),
    '-dns-port',
    String(p.dnsPort),
    '-grpc-port',
    '-1',
    '-grpc-tls-port',
    '-1',
    '-serf-lan-port',
    String(p.serfLan),
    '-serf-wan-port',
    String(p.serfWan),
    '-server-port',
    String(p.serverPort),
    '-log-level',
    'warn',
    // No phoning home from a test machine.
    '-disable-host-node-id',
    '-hcl',
    'disable_update_check = true',
  ];
}

/** Consul's own word for ready: it has elected a leader, so catalog writes succeed. */
async function hasLeader(httpAddr: string): Promise<boolean> {
  const res = await fetch(`http://${httpAddr}/v1/status/leader`, { signal: AbortSignal.timeout(1000) });
  if (!res.ok) return false;
  const leader: unknown = await res.json();
  return typeof leader === 'string' && leader !== '';
}

/**
 * A Consul dev agent (in-memory server, single node) with every port on a free
 * loopback port, gRPC disabled. Ready once it has elected itself leader, so
 * catalog writes succeed right away. The caller owns it: for tests that stop
 * Consul, read the whole catalog or need a node of their own; the others take
 * sharedConsul().
 */
export async function startConsul(opts: StartConsulOptions = {}): Promise<ConsulHandle> {
  // Free ports are picked before Consul binds them: with test files running side by side another
  // process can take one in between. Then Consul stops with "address already in use"; pick again.
  // Once in a suite run a dev server's raft election stalled (heartbeat timeout, no leader for
  // 20 s); a fresh one on fresh ports elects itself at once, so that is retried too (it was
  // killed when it was not ready).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startConsulOnce(opts);
    } catch (err) {
      if (attempt >= 4 || !/address already in use|consul not ready after/.test(String(err))) throw err;
    }
  }
}

async function startConsulOnce(opts: StartConsulOptions): Promise<ConsulHandle> {
  const bin = toolPath('consul');
  const ports = await pickPorts();
  const dir = await tempDir('consul');
  const nodeName = `berth-test-${randomBytes(4).toString('hex')}`;
  const httpAddr = `127.0.0.1:${ports.httpPort}`;
  let proc: Awaited<ReturnType<typeof startProcess>>;
  try {
    proc = await startProcess({
      name: 'consul',
      cmd: bin,
      args: consulArgs(ports, nodeName),
      cwd: dir,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
      ready: () => hasLeader(httpAddr),
    });
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  return {
    httpPort: ports.httpPort,
    dnsPort: ports.dnsPort,
    httpAddr,
    nodeName,
    pid: proc.pid,
    output: () => proc.output(),
    async stop() {
      await proc.stop('SIGTERM', 5000);
      await removeDir(dir);
    },
  };
}

/** What the run dir keeps about the shared agent (consul.json). */
interface SharedConsulRecord {
  pid: number;
  httpPort: number;
  dnsPort: number;
  nodeName: string;
  dir: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The run's one Consul dev agent. Under test/run.sh (BERTH_TEST_RUN_DIR set)
 * the first file that asks starts it, detached from its own process so it
 * outlives the file, and records it in the run dir; later files reuse it, and
 * test/run.sh stops it at the end (stopSharedConsul). A file run on its own
 * gets an agent of its own instead, stopped by `stop()` as startConsul's.
 *
 * Every file on the shared agent keeps to names of its own: service names and
 * IDs, KV prefixes, and the berth node name it registers as (random suffixes).
 * Tests that stop Consul or read the whole catalog use startConsul().
 */
export async function sharedConsul(opts: StartConsulOptions = {}): Promise<ConsulHandle> {
  const runDir = process.env.BERTH_TEST_RUN_DIR ?? '';
  if (runDir === '') return startConsul(opts);
  const record = join(runDir, 'consul.json');
  const lock = join(runDir, 'consul.lock');
  // One starter at a time: the lock is a file created with O_EXCL holding the pid; a dead holder's is taken over.
  await pollUntil(
    'the shared Consul lock',
    async () => {
      try {
        const fh = await open(lock, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
        if (holder > 0 && !alive(holder))
          await rename(lock, `${lock}.stale-${process.pid}`).catch(() => undefined);
        return undefined;
      }
    },
    (opts.readyTimeoutMs ?? 20_000) + 10_000,
    50,
  );
  try {
    const known = JSON.parse(await readFile(record, 'utf8').catch(() => 'null')) as SharedConsulRecord | null;
    if (
      known !== null &&
      alive(known.pid) &&
      (await hasLeader(`127.0.0.1:${known.httpPort}`).catch(() => false))
    )
      return sharedHandle(known, runDir);
    const started = await startDetached(runDir, opts.readyTimeoutMs ?? 20_000);
    await writeFile(record, JSON.stringify(started));
    return sharedHandle(started, runDir);
  } finally {
    await rm(lock, { force: true });
  }
}

function sharedHandle(r: SharedConsulRecord, runDir: string): ConsulHandle {
  return {
    httpPort: r.httpPort,
    dnsPort: r.dnsPort,
    httpAddr: `127.0.0.1:${r.httpPort}`,
    nodeName: r.nodeName,
    pid: r.pid,
    output: () => {
      try {
        return readFileSync(join(runDir, 'consul.log'), 'utf8');
      } catch {
        return '';
      }
    },
    // The run's agent: test/run.sh stops it once every file is done.
    stop: async () => undefined,
  };
}

async function startDetached(runDir: string, readyTimeoutMs: number): Promise<SharedConsulRecord> {
  const ports = await pickPorts();
  const dir = join(runDir, 'consul');
  await mkdir(dir, { recursive: true });
  const nodeName = `berth-test-${randomBytes(4).toString('hex')}`;
  const log = await open(join(runDir, 'consul.log'), 'a');
  const child = spawn(toolPath('consul'), consulArgs(ports, nodeName), {
    cwd: dir,
    stdio: ['ignore', log.fd, log.fd],
    detached: true,
  });
  // Listen before anything else is awaited: 'spawn' fires on the next tick.
  const spawned = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`consul: cannot start: ${err.message}`)));
    child.once('spawn', () =>
      child.pid === undefined ? reject(new Error('consul: no pid')) : resolve(child.pid),
    );
  });
  const pid = await spawned.finally(() => log.close());
  child.unref();
  const httpAddr = `127.0.0.1:${ports.httpPort}`;
  try {
    await pollUntil(
      'the shared Consul to elect a leader',
      async () => {
        if (!alive(pid)) throw new Error('consul exited');
        return (await hasLeader(httpAddr)) ? true : undefined;
      },
      readyTimeoutMs,
      100,
    );
  } catch (err) {
    await stopPid(pid);
    const out = await readFile(join(runDir, 'consul.log'), 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n--- consul output (tail) ---\n${out.slice(-4000)}`);
  }
  return { pid, httpPort: ports.httpPort, dnsPort: ports.dnsPort, nodeName, dir };
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** test/run.sh's end of run: stops the shared agent recorded in `runDir`, if one was started. */
export async function stopSharedConsul(runDir: string): Promise<void> {
  const known = JSON.parse(
    await readFile(join(runDir, 'consul.json'), 'utf8').catch(() => 'null'),
  ) as SharedConsulRecord | null;
  if (known === null) return;
  await stopPid(known.pid);
  await rm(known.dir, { recursive: true, force: true });
}
