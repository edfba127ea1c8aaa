/**
 * The metrics sidecar at scale and at rest.
 *
 * 1. Scale: a cgroup v1 fixture tree (the layout of test/fixtures/metrics/v1,
 *    one copy of its `shop-web-1` container per container: cpu,cpuacct,
 *    memory, blkio and pids cgroups, /proc/<pid>/net/dev and fd) with N
 *    containers (default 1,000), served by MetricsCollector + MetricsServer
 *    in a child process running the compiled dist/ code under plain node
 *    (built first with tsconfig.build.json), as the product runs. Times full
 *    HTTP GET /metrics scrapes, the server's CPU per scrape (its
 *    /proc/<pid>/stat around each one) and its RSS.
 * 2. Idle: a real agent with 50 live `sleep` containers: its CPU from
 *    /proc/<pid>/stat over 20 s unscraped, then over 30 s scraped every 10 s
 *    as Prometheus scrapes (its Accept header), with each scrape's own CPU.
 *
 * `npm run bench -- metrics [containers] [--skip-live]`
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ContainerDescriptor } from '../../runtime/types.js';
import { startAgent, type TestAgent } from '../harness/agent.js';
import { buildBusyboxImage } from '../harness/images.js';
import { type ManagedProcess, startProcess } from '../harness/proc.js';
import { descriptor, FIXTURES, WEB_ID } from '../unit/metrics/fixture-source.js';
import { cpuSeconds, threadCpuSeconds } from './_proc.js';
import { median, quantile, round } from './_stats.js';

export const description =
  'metrics: /metrics scrape time, CPU and RSS over a 1,000-container v1 fixture; idle agent CPU with 50 live containers';

const TEMPLATE_PID = 4242;
/** What Prometheus 2.x sends: OpenMetrics first. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const CONTROLLERS = ['cpu,cpuacct', 'memory', 'blkio', 'pids'];
const note = (s: string) => process.stderr.write(`${s}\n`);

/** Builds `<dir>/{proc,sys}` with `n` copies of the fixture's web container (see fixtureContainers). */
function buildFixture(dir: string, n: number): void {
  const src = `${FIXTURES}v1`;
  // Everything but the per-container parts: mountinfo, meminfo, cpu online, block device names.
  cpSync(`${src}/proc/self`, `${dir}/proc/self`, { recursive: true });
  cpSync(`${src}/proc/meminfo`, `${dir}/proc/meminfo`);
  cpSync(`${src}/sys/devices`, `${dir}/sys/devices`, { recursive: true });
  cpSync(`${src}/sys/dev`, `${dir}/sys/dev`, { recursive: true });
  const cg = `${dir}/sys/fs/cgroup`;
  for (const c of CONTROLLERS) mkdirSync(`${cg}/${c}/berth`, { recursive: true });
  cpSync(`${src}/sys/fs/cgroup/cpu`, `${cg}/cpu`, { verbatimSymlinks: true });
  cpSync(`${src}/sys/fs/cgroup/cpuacct`, `${cg}/cpuacct`, { verbatimSymlinks: true });

  const templates = CONTROLLERS.map((c) => {
    const d = `${src}/sys/fs/cgroup/${c}/berth/${WEB_ID}`;
    return { c, files: readdirSync(d).map((f) => [f, readFileSync(`${d}/${f}`, 'utf8')] as const) };
  });
  const netDev = readFileSync(`${src}/proc/${TEMPLATE_PID}/net/dev`, 'utf8');
  for (let i = 0; i < n; i++) {
    const id = fixtureId(i);
    const pid = 100_000 + i;
    for (const t of templates) {
      const d = `${cg}/${t.c}/berth/${id}`;
      mkdirSync(d);
      for (const [f, text] of t.files) writeFileSync(`${d}/${f}`, f === 'cgroup.procs' ? `${pid}\n` : text);
    }
    mkdirSync(`${dir}/proc/${pid}/net`, { recursive: true });
    writeFileSync(`${dir}/proc/${pid}/net/dev`, netDev);
    cpSync(`${src}/proc/${TEMPLATE_PID}/fd`, `${dir}/proc/${pid}/fd`, {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
}

/** The descriptors of the fixture's containers (the child rebuilds them: only the tree is shared). */
function fixtureContainers(n: number): ContainerDescriptor[] {
  return Array.from({ length: n }, (_, i) =>
    descriptor({
      id: fixtureId(i),
      name: `bench-${i}`,
      image: 'registry.local:5000/bench/app:1.0',
      pid: 100_000 + i,
      startedAt: '2026-11-27T10:00:00Z',
      labels: { 'com.docker.compose.service': `svc-${i % 20}` },
    }),
  );
}

const fixtureId = (i: number) => i.toString(16).padStart(8, '0').repeat(8);

/**
 * The agent's side, in a process of its own so its CPU and RSS are measured
 * apart from the client: MetricsCollector + MetricsServer over the fixture,
 * writing its port to DIR/port. It runs the compiled dist/ code under plain
 * node, as the product runs: under tsx the loader alone adds ~36 MB of RSS
 * and compiles on the fly. The containers come from DIR/containers.json.
 */
const SERVE_FIXTURE = `
import { readFileSync, writeFileSync } from 'node:fs';
const [dist, dir] = process.argv.slice(1);
const { MetricsCollector } = await import(dist + '/sidecar/metrics/collector.js');
const { MetricsServer } = await import(dist + '/sidecar/metrics/server.js');
const { silentLogger } = await import(dist + '/runtime/base/log.js');
const containers = JSON.parse(readFileSync(dir + '/containers.json', 'utf8'));
const collector = new MetricsCollector({
  source: { list: async () => containers },
  roots: { proc: dir + '/proc', sys: dir + '/sys', cgroup: dir + '/sys/fs/cgroup' },
  logger: silentLogger(),
  labelsAllowlist: ['com.docker.compose.service'],
});
const server = new MetricsServer({ collector, logger: silentLogger(), host: '127.0.0.1', port: 0 });
const { port } = await server.start();
writeFileSync(dir + '/port', String(port));
process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
`;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Compiles the product into dist/ (incremental, a few seconds) so the server runs what ships. */
function buildDist(): string {
  const r = spawnSync(
    process.execPath,
    [`${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  const dist = `${ROOT}dist`;
  if (r.status !== 0) {
    // Errors elsewhere in the tree still emit; only a missing build is fatal.
    note(`bench: tsc -p tsconfig.build.json exited ${r.status}:\n${(r.stdout + r.stderr).slice(0, 2000)}`);
    if (!existsSync(`${dist}/sidecar/metrics/collector.js`)) throw new Error('bench: dist/ was not built');
  }
  return dist;
}

async function scaleBench(n: number, scrapes: number): Promise<Record<string, unknown>> {
  const dir = join(tmpdir(), `berth-bench-metrics-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  let server: ManagedProcess | undefined;
  try {
    const t0 = performance.now();
    buildFixture(dir, n);
    writeFileSync(`${dir}/containers.json`, JSON.stringify(fixtureContainers(n)));
    note(`fixture: ${n} containers in ${Math.round(performance.now() - t0)} ms at ${dir}`);
    const dist = buildDist();
    server = await startProcess({
      name: 'metrics-fixture-server',
      cmd: process.execPath,
      args: [
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        '--input-type=module',
        '-e',
        SERVE_FIXTURE,
        dist,
        dir,
      ],
      ready: async () => existsSync(`${dir}/port`),
      readyTimeoutMs: 30_000,
    });
    const port = Number(readFileSync(`${dir}/port`, 'utf8'));
    const pid = server.pid;
    const url = `http://127.0.0.1:${port}/metrics`;
    const rssBefore = rssMb(pid);
    const wallMs: number[] = [];
    let cpuS = 0;
    let bytes = 0;
    let series = 0;
    for (let i = 0; i < scrapes + 3; i++) {
      const c0 = cpuSeconds(pid);
      const w0 = performance.now();
      const body = await (await fetch(url)).text();
      const w = performance.now() - w0;
      const c1 = cpuSeconds(pid);
      // The first scrapes warm the JIT.
      if (i < 3) continue;
      wallMs.push(w);
      cpuS += c1 - c0;
      bytes = body.length;
      series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    }
    return {
      containers: n,
      scrapes,
      scrape_ms_p50: round(median(wallMs), 1),
      scrape_ms_p99: round(quantile(wallMs, 0.99), 1),
      // /proc/<pid>/stat counts 10 ms ticks: summed over the scrapes, then divided.
      cpu_ms_per_scrape: round((cpuS * 1000) / scrapes, 1),
      rss_mb: rssMb(pid),
      rss_mb_peak: hwmMb(pid),
      rss_mb_before_first_scrape: rssBefore,
      series,
      body_kb: Math.round(bytes / 1024),
    };
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(m?.[1] ?? 0) / 1024, 1);
}

const rssMb = (pid: number) => statusMb(pid, 'VmRSS');

/** Peak RSS of the process's life. */
const hwmMb = (pid: number) => statusMb(pid, 'VmHWM');

async function idleBench(
  liveContainers: number,
  windowS: number,
  baselineS: number,
): Promise<Record<string, unknown>> {
  let agent: TestAgent | undefined;
  try {
    agent = await startAgent();
    const a = agent;
    const ref = 'bench/busybox:metrics';
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    if ((await a.cli(['load', '-i', tar])).code !== 0) throw new Error('berth load failed');
    const t0 = performance.now();
    // A few CLI processes at a time: each is a node start, and the machine has 2 cores.
    for (let i = 0; i < liveContainers; i += 5) {
      const batch = Array.from({ length: Math.min(5, liveContainers - i) }, (_, j) =>
        a.cli(['run', '-d', '--name', `idle-${i + j}`, ref, 'sleep', '3600']),
      );
      for (const r of await Promise.all(batch)) {
        if (r.code !== 0) throw new Error(`berth run: ${r.stderr}`);
      }
    }
    note(`idle: ${liveContainers} containers started in ${Math.round(performance.now() - t0)} ms`);
    const pid = a.process().pid;
    const info = await a.info();
    const url = String((info.endpoints as Record<string, string>).metrics);
    // Scraped as Prometheus scrapes (its Accept header, every 10 s), by this process so
    // each scrape's CPU can be read off the agent's /proc/<pid>/stat right around it.
    const scrape = async () => {
      const res = await fetch(url, { headers: { accept: PROMETHEUS_ACCEPT } });
      await res.text();
    };
    // One scrape first: cgroup detection and first-call compilation happen once per agent, not per scrape.
    await scrape();
    // Let the container starts' work (events, log files, exit watchers) settle before measuring.
    await sleep(5000);
    // Baseline: the agent with its containers and nobody scraping, so the metrics share is visible.
    const b0 = cpuSeconds(pid);
    const bw0 = performance.now();
    await sleep(baselineS * 1000);
    const baseline = (cpuSeconds(pid) - b0) / ((performance.now() - bw0) / 1000);

    const perScrapeCpu: number[] = [];
    const perScrapeMs: number[] = [];
    const c0 = cpuSeconds(pid);
    const w0 = performance.now();
    for (let i = 0; i < windowS / 10; i++) {
      const s0 = threadCpuSeconds(pid);
      const t0 = performance.now();
      await scrape();
      perScrapeMs.push(performance.now() - t0);
      perScrapeCpu.push(threadCpuSeconds(pid) - s0);
      await sleep(Math.max(0, w0 + (i + 1) * 10_000 - performance.now()));
    }
    const elapsed = (performance.now() - w0) / 1000;
    const withScrapes = (cpuSeconds(pid) - c0) / elapsed;
    const scrapeCpu = perScrapeCpu.reduce((x, y) => x + y, 0);
    return {
      live_containers: liveContainers,
      idle_window_s: round(elapsed, 1),
      idle_scrape_interval_s: 10,
      idle_scrapes_in_window: perScrapeCpu.length,
      idle_cpu_pct: round(withScrapes * 100, 2),
      idle_cpu_pct_no_scrapes: round(baseline * 100, 2),
      // CPU the agent used during the scrapes themselves (all threads, from schedstat) over the window.
      idle_cpu_pct_metrics: round((scrapeCpu / elapsed) * 100, 2),
      live_scrape_ms_median: round(median(perScrapeMs), 1),
      live_scrape_cpu_ms_median: round(median(perScrapeCpu) * 1000, 1),
      idle_agent_rss_mb: rssMb(pid),
    };
  } finally {
    // Removes every container, the bridge and the state.
    await agent?.stop();
  }
}

/** `npm run bench -- metrics [CONTAINERS] [--skip-live]`. */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values, positionals } = parseArgs({
    args,
    options: { 'skip-live': { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const n = Number(positionals[0] ?? 1000);
  if (!Number.isInteger(n) || n < 1 || positionals.length > 1) {
    throw new Error(`usage: npm run bench -- metrics [CONTAINERS] [--skip-live], got ${args.join(' ')}`);
  }
  const result: Record<string, unknown> = await scaleBench(n, 30);
  note(`scale: ${JSON.stringify(result)}`);
  if (!values['skip-live']) Object.assign(result, await idleBench(50, 60, 30));
  return result;
}
