import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { pollUntil, startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';

/** A small description the harness turns into a config: each frontend listens on loopback and balances over its servers. */
export interface HaproxySimpleConfig {
  frontends: HaproxyFrontendSpec[];
}

export interface HaproxyFrontendSpec {
  /** Section name; default fe<i>. The backend is named be_<name>. */
  name?: string;
  /** Default: a free port. */
  port?: number;
  /** Default 'http'. */
  mode?: 'http' | 'tcp';
  /** Default 'roundrobin'. */
  balance?: string;
  /** host:port of each server; named s<i>. */
  servers: string[];
}

export interface HaproxyHandle {
  /** The master process (master-worker mode, -W). */
  pid: number;
  /** The user's config (a generated one when an object was given). */
  configPath: string;
  /** The harness's own config file loaded first: the global section with the stats socket. */
  harnessConfigPath: string;
  masterSocket: string;
  /** The admin-level Runtime API socket (`expose-fd listeners`, so reloads keep listening sockets). */
  statsSocket: string;
  /** Frontend name → port, for generated configs (empty for a config string). */
  frontendPorts: Record<string, number>;
  /** One Runtime API command over the stats socket, e.g. 'show stat'; resolves with the full answer. */
  runtimeCommand(cmd: string): Promise<string>;
  /** One command over the master CLI, e.g. 'show proc'. */
  masterCommand(cmd: string): Promise<string>;
  /** Seamless reload through the master CLI; resolves when a new worker is serving, throws if the reload failed. */
  reload(): Promise<void>;
  /** Current worker PIDs, as the master reports them. */
  workerPids(): Promise<number[]>;
  output(): string;
  stop(): Promise<void>;
}

/** Sends `cmd` to a HAProxy CLI socket (non-interactive: HAProxy closes after answering) and returns the answer. */
export function socketCommand(path: string, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`haproxy socket ${path}: no answer to '${cmd}' within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    // The master CLI answers only after the client half-closes; the stats socket does not mind.
    sock.on('connect', () => sock.end(`${cmd}\n`));
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Renders a simple config: defaults with sane timeouts, one frontend and backend per spec. */
export function renderHaproxyConfig(spec: HaproxySimpleConfig, ports: number[]): string {
  const lines = ['defaults', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', ''];
  spec.frontends.forEach((fe, i) => {
    const name = fe.name ?? `fe${i}`;
    const mode = fe.mode ?? 'http';
    lines.push(
      `frontend ${name}`,
      `  mode ${mode}`,
      `  bind 127.0.0.1:${ports[i]}`,
      `  default_backend be_${name}`,
      '',
      `backend be_${name}`,
      `  mode ${mode}`,
      `  balance ${fe.balance ?? 'roundrobin'}`,
    );
    fe.servers.forEach((addr, j) => {
      lines.push(`  server s${j} ${addr}`);
    });
    lines.push('');
  });
  return `${lines.join('\n')}\n`;
}

/** Parses the master CLI's `show proc` into the current worker PIDs and the failed-reload counter. */
export function parseShowProc(text: string): { workers: number[]; failedReloads: number } {
  const workers: number[] = [];
  let failedReloads = 0;
  let section: 'master' | 'workers' | 'old' | 'other' = 'master';
  for (const line of text.split('\n')) {
    if (line.startsWith('# workers')) section = 'workers';
    else if (line.startsWith('# old workers')) section = 'old';
    else if (line.startsWith('#')) section = section === 'master' ? 'master' : 'other';
    const m = /^(\d+)\s+(\w+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    if (m[2] === 'master') {
      const f = /failed:\s*(\d+)/.exec(m[3] ?? '');
      if (f?.[1] !== undefined) failedReloads = Number(f[1]);
    } else if (section === 'workers' && m[2] === 'worker') {
      workers.push(Number(m[1]));
    }
  }
  return { workers, failedReloads };
}

/**
 * HAProxy in master-worker mode with a master CLI socket and an admin stats
 * socket in a temp dir. Ready once a worker answers on the stats socket.
 */
export async function startHaproxy(config: string | HaproxySimpleConfig): Promise<HaproxyHandle> {
  const dir = await tempDir('haproxy');
  const masterSocket = join(dir, 'master.sock');
  const statsSocket = join(dir, 'stats.sock');
  const harnessConfigPath = join(dir, '00-harness.cfg');
  const configPath = join(dir, 'haproxy.cfg');
  const pidFile = join(dir, 'haproxy.pid');
  const frontendPorts: Record<string, number> = {};
  let text: string;
  if (typeof config === 'string') {
    text = config;
  } else {
    const ports: number[] = [];
    for (const [i, fe] of config.frontends.entries()) {
      const port = fe.port ?? (await freePort());
      ports.push(port);
      frontendPorts[fe.name ?? `fe${i}`] = port;
    }
    text = renderHaproxyConfig(config, ports);
  }
  // A separate global section in a file loaded first, so a user's full config
  // string keeps its own global settings and the harness still gets its socket.
  await writeFile(
    harnessConfigPath,
    ['global', `  stats socket ${statsSocket} mode 600 level admin expose-fd listeners`, ''].join('\n'),
  );
  await writeFile(configPath, text);

  const runtimeCommand = (cmd: string): Promise<string> => socketCommand(statsSocket, cmd);
  const masterCommand = (cmd: string): Promise<string> => socketCommand(masterSocket, cmd);
  let proc: Awaited<ReturnType<typeof startProcess>>;
  try {
    proc = await startProcess({
      name: 'haproxy',
      cmd: 'haproxy',
      args: ['-W', '-S', masterSocket, '-f', harnessConfigPath, '-f', configPath, '-p', pidFile],
      cwd: dir,
      readyTimeoutMs: 10_000,
      // Both sockets: the worker serves before the master CLI is always accepting.
      ready: async () =>
        existsSync(statsSocket) &&
        (await runtimeCommand('show info')).includes('Pid:') &&
        parseShowProc(await masterCommand('show proc')).workers.length > 0,
    });
  } catch (err) {
    await removeDir(dir);
    throw err;
  }

  const workerPids = async (): Promise<number[]> => parseShowProc(await masterCommand('show proc')).workers;

  return {
    pid: proc.pid,
    configPath,
    harnessConfigPath,
    masterSocket,
    statsSocket,
    frontendPorts,
    runtimeCommand,
    masterCommand,
    workerPids,
    output: () => proc.output(),
    async reload() {
      const before = await pollUntil(
        'haproxy master CLI',
        async () => parseShowProc(await masterCommand('show proc')),
        5000,
        50,
      );
      // HAProxy 2.6's master CLI `reload` answers nothing; the master re-execs
      // and closes the connection. Completion is a new worker PID in `show proc`.
      await masterCommand('reload').catch(() => '');
      let failed = false;
      const fresh = await pollUntil(
        'haproxy reload',
        async () => {
          const now = parseShowProc(await masterCommand('show proc'));
          if (now.failedReloads > before.failedReloads) {
            failed = true;
            return [];
          }
          const added = now.workers.filter((p) => !before.workers.includes(p));
          return added.length > 0 ? added : undefined;
        },
        10_000,
        100,
      ).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${proc.output().slice(-3000)}`);
      });
      if (failed || fresh.length === 0) {
        throw new Error(
          `haproxy reload failed; the old worker keeps serving. Output:\n${proc.output().slice(-3000)}`,
        );
      }
      // The new worker has just bound; wait until its stats socket answers.
      await pollUntil(
        'haproxy stats socket after reload',
        async () => ((await runtimeCommand('show info')).includes('Pid:') ? true : undefined),
        5000,
        50,
      );
    },
    async stop() {
      await proc.stop('SIGTERM', 5000);
      await removeDir(dir);
    },
  };
}
