/**
 * Embedded DNS throughput and latency: dnsperf (Debian) against berth's
 * DnsServer answering from a LocalCatalog of N services, and against dnsmasq
 * serving the same names from a hosts file. Same query file, same loads, same
 * run, interleaved per round:
 *   - a rate-limited run (`-Q 5000`, `-v`): p50/p99 from dnsperf's per-query latencies;
 *   - an unlimited run: queries per second;
 *   - the rate-limited run against a bare Node UDP echo server too, the floor
 *     any Node server has here (`node_echo_p99_ms`), so machine noise shows.
 * Args: [seconds per run = 10] [rounds = 3] [services = 100]. Medians over rounds.
 */
import { spawn } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCatalog } from '../../sidecar/discovery/local.js';
import { DnsServer } from '../../sidecar/dns/server.js';
import { freePort } from '../harness/ports.js';
import { type ManagedProcess, startProcess } from '../harness/proc.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import { median, quantile, round } from './_stats.js';

export const description = 'embedded DNS vs dnsmasq under dnsperf (qps, p99 at 5000 qps)';

const LIMITED_QPS = 5000;

interface PerfResult {
  qps: number;
  completed: number;
  lost: number;
  /** Per-query latencies in ms (only with verbose). */
  latenciesMs: number[];
}

/**
 * dnsperf's output goes to a file, read after it exits: parsing ~50k `-v`
 * lines while it runs would steal CPU from the server under test (berth's
 * runs in this process) and back-pressure dnsperf's own stdout.
 */
async function dnsperf(
  dir: string,
  port: number,
  queries: string,
  seconds: number,
  opts: { qps?: number; verbose?: boolean },
): Promise<PerfResult> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds)];
  if (opts.qps !== undefined) args.push('-Q', String(opts.qps));
  if (opts.verbose === true) args.push('-v');
  const outFile = join(dir, 'dnsperf.out');
  const fh = await open(outFile, 'w');
  let err = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const c = spawn('dnsperf', args, { stdio: ['ignore', fh.fd, 'pipe'] });
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.once('error', reject);
    c.once('close', resolve);
  }).finally(() => fh.close());
  if (code !== 0) throw new Error(`dnsperf exited ${code}: ${err.trim()}`);
  const out = await readFile(outFile, 'utf8');
  const latenciesMs: number[] = [];
  // `> NOERROR name A 0.000037`: one line per completed query with -v.
  for (const line of out.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const sec = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(sec)) latenciesMs.push(sec * 1000);
  }
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latenciesMs,
  };
}

async function startDnsmasq(dir: string, hostsFile: string, port: number): Promise<ManagedProcess> {
  const args = [
    '--no-daemon',
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${hostsFile}`,
    '--port',
    String(port),
    '--listen-address',
    '127.0.0.1',
    '--bind-interfaces',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    // The default cache (150) would hold fewer names than the hosts file; hosts entries are not cached anyway.
    '--cache-size=1000',
    '--log-facility=-',
  ];
  const proc = await startProcess({ name: 'dnsmasq', cmd: 'dnsmasq', args, ready: async () => true });
  // dnsmasq binds before reading hosts; give it a moment, then check it answers.
  for (let i = 0; i < 50; i++) {
    if (/read .* names/.test(proc.output())) return proc;
    await sleep(100);
  }
  return proc;
}

/**
 * The floor of any Node UDP server on this machine: a child process that
 * sends each query back with QR set (copy + send, nothing else). Its p99
 * separates what berth's code costs from what Node and the machine's load do.
 */
const ECHO_SERVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { const o = Buffer.allocUnsafe(m.length); m.copy(o); o[2] |= 0x80; s.send(o, r.port, r.address); });
s.bind(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'));
`;

async function startNodeEcho(port: number): Promise<ManagedProcess> {
  const proc = await startProcess({
    name: 'node-udp-echo',
    cmd: process.execPath,
    args: ['-e', ECHO_SERVER, String(port)],
  });
  for (let i = 0; i < 50 && !proc.output().includes('ready'); i++) await sleep(100);
  return proc;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(args[0] ?? 10);
  const rounds = Number(args[1] ?? 3);
  const services = Number(args[2] ?? 100);
  const dir = await tempDir('bench-dns');
  const catalog = new LocalCatalog({ nodeName: 'bench', datacenter: 'dc1' });
  let server: DnsServer | undefined;
  let dnsmasq: ManagedProcess | undefined;
  let echo: ManagedProcess | undefined;
  try {
    const hosts: string[] = [];
    const queries: string[] = [];
    for (let i = 1; i <= services; i++) {
      const name = `svc${i}`;
      const address = `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
      await catalog.register({
        id: `bench:${name}:80`,
        service: name,
        tags: [],
        meta: {},
        address,
        port: 80,
        node: 'bench',
        health: 'passing',
      });
      hosts.push(`${address} ${name}.service.consul`);
      queries.push(`${name}.service.consul A`);
    }
    const hostsFile = join(dir, 'hosts');
    const queryFile = join(dir, 'queries');
    await writeFile(hostsFile, `${hosts.join('\n')}\n`);
    await writeFile(queryFile, `${queries.join('\n')}\n`);

    server = new DnsServer({
      view: () => catalog.view(),
      nodeName: 'bench',
      nodeAddress: '127.0.0.1',
      listen: [{ address: '127.0.0.1', port: 0 }],
      upstreams: [],
      rateLimit: false,
    });
    await server.start();
    const berthPort = server.addresses()[0]?.port ?? 0;
    const dnsmasqPort = await freePort();
    dnsmasq = await startDnsmasq(dir, hostsFile, dnsmasqPort);
    const echoPort = await freePort();
    echo = await startNodeEcho(echoPort);

    // Warm-up: JIT and caches on both sides.
    await dnsperf(dir, berthPort, queryFile, 1, {});
    await dnsperf(dir, dnsmasqPort, queryFile, 1, {});

    const perRound: Record<string, number>[] = [];
    for (let r = 0; r < rounds; r++) {
      const bLim = await dnsperf(dir, berthPort, queryFile, seconds, { qps: LIMITED_QPS, verbose: true });
      const dLim = await dnsperf(dir, dnsmasqPort, queryFile, seconds, { qps: LIMITED_QPS, verbose: true });
      const eLim = await dnsperf(dir, echoPort, queryFile, seconds, { qps: LIMITED_QPS, verbose: true });
      const bMax = await dnsperf(dir, berthPort, queryFile, seconds, {});
      const dMax = await dnsperf(dir, dnsmasqPort, queryFile, seconds, {});
      const row = {
        berth_qps: round(bMax.qps, 0),
        dnsmasq_qps: round(dMax.qps, 0),
        ratio: round(bMax.qps / dMax.qps, 3),
        berth_p50_ms: round(quantile(bLim.latenciesMs, 0.5), 3),
        berth_p99_ms: round(quantile(bLim.latenciesMs, 0.99), 3),
        dnsmasq_p99_ms: round(quantile(dLim.latenciesMs, 0.99), 3),
        node_echo_p99_ms: round(quantile(eLim.latenciesMs, 0.99), 3),
        berth_lost_at_5000: bLim.lost,
        berth_lost_max: bMax.lost,
      };
      process.stderr.write(`round ${r + 1}/${rounds}: ${JSON.stringify(row)}\n`);
      perRound.push(row);
    }
    const med = (k: string): number => median(perRound.map((x) => x[k] ?? Number.NaN));
    return {
      services,
      seconds,
      rounds,
      limited_qps: LIMITED_QPS,
      berth_qps: med('berth_qps'),
      dnsmasq_qps: med('dnsmasq_qps'),
      ratio: med('ratio'),
      berth_p50_ms: med('berth_p50_ms'),
      berth_p99_ms: med('berth_p99_ms'),
      dnsmasq_p99_ms: med('dnsmasq_p99_ms'),
      node_echo_p99_ms: med('node_echo_p99_ms'),
      berth_lost_at_5000: med('berth_lost_at_5000'),
      target_met: med('ratio') >= 0.5 && med('berth_p99_ms') < 2,
    };
  } finally {
    await dnsmasq?.stop('SIGTERM', 3000);
    await echo?.stop('SIGTERM', 3000);
    await server?.close();
    await catalog.close();
    await removeDir(dir);
  }
}
