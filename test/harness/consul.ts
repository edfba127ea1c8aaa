import { randomBytes } from 'node:crypto';
import { freePorts } from './ports.js';
import { startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';
import { toolPath } from './tools.js';

export interface ConsulHandle {
  httpPort: number;
  /** Consul's own DNS server (UDP and TCP) on 127.0.0.1. */
  dnsPort: number;
  /** '127.0.0.1:<httpPort>', the form Consul clients and CONSUL_HTTP_ADDR take. */
  httpAddr: string;
  /** The agent's node name (unique per start). */
  nodeName: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface StartConsulOptions {
  /** Default 20000: a dev agent elects itself in 1–3 s, slower on a loaded 2-core machine. */
  readyTimeoutMs?: number;
}

/**
 * A Consul dev agent (in-memory server, single node) with every port on a free
 * loopback port, gRPC disabled. Ready once it has elected itself leader, so
 * catalog writes succeed right away.
 */
export async function startConsul(opts: StartConsulOptions = {}): Promise<ConsulHandle> {
  const bin = toolPath('consul');
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
  const dir = await tempDir('consul');
  const nodeName = `berth-test-${randomBytes(4).toString('hex')}`;
  const httpAddr = `127.0.0.1:${httpPort}`;
  const args = [
    'agent',
    '-dev',
    '-node',
    nodeName,
    '-bind',
    '127.0.0.1',
    '-client',
    '127.0.0.1',
    '-http-port',
    String(httpPort),
    '-dns-port',
    String(dnsPort),
    '-grpc-port',
    '-1',
    '-grpc-tls-port',
    '-1',
    '-serf-lan-port',
    String(serfLan),
    '-serf-wan-port',
    String(serfWan),
    '-server-port',
    String(serverPort),
    '-log-level',
    'warn',
    // No phoning home from a test machine.
    '-disable-host-node-id',
    '-hcl',
    'disable_update_check = true',
  ];
  let proc: Awaited<ReturnType<typeof startProcess>>;
  try {
    proc = await startProcess({
      name: 'consul',
      cmd: bin,
      args,
      cwd: dir,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
      ready: async () => {
        const res = await fetch(`http://${httpAddr}/v1/status/leader`, { signal: AbortSignal.timeout(1000) });
        if (!res.ok) return false;
        const leader: unknown = await res.json();
        return typeof leader === 'string' && leader !== '';
      },
    });
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  return {
    httpPort,
    dnsPort,
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
