/**
 * berth against cAdvisor on the same live containers: a real agent runs N
 * `sleep` containers (default 200) from the busybox test image; cAdvisor
 * v0.57's library (test/tools/cadvisor, raw cgroup factory) watches exactly
 * their cgroups. Both are scraped every INTERVAL seconds (default 10) with
 * Prometheus' Accept header, and cAdvisor housekeeps every INTERVAL without
 * backing off, so each reads every container once per scrape: the same
 * work asked of both.
 *
 * Figures (CPU from /proc/<pid>/stat over the window, and each scrape's own
 * CPU from every thread's schedstat around it; RSS = VmRSS at the end):
 * - berth_cpu_ms_per_scrape: the agent's CPU during a scrape (median).
 *   berth collects on the scrape path, so that is its whole measuring cost;
 *   berth_total_cpu_ms_per_scrape adds everything else the agent did in
 *   the window (its 200 containers' supervision), divided by the scrapes.
 * - cadvisor_cpu_ms_per_scrape: cAdvisor's CPU over the window divided by
 *   the scrapes: it collects in housekeeping goroutines between scrapes,
 *   which is its measuring cost per scrape.
 * - *_idle_cpu_pct: CPU outside the scrapes over the window, % of a core.
 * - berth_rss_mb is the whole agent (runtime, API, every sidecar), not
 *   only its metrics.
 *
 * `npm run bench -- vs-cadvisor [CONTAINERS] [--interval S] [--scrapes N] [--node-args=…] [--agent-env=K=V] [--network none] [--cadvisor-defaults]`
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAgent, type TestAgent } from '../harness/agent.js';
import { type CadvisorHandle, startCadvisor } from '../harness/cadvisor.js';
import { buildBusyboxImage } from '../harness/images.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import { cpuSeconds, threadCpuSeconds } from './_proc.js';
import { median, round } from './_stats.js';

export const description =
  'vs-cadvisor: berth and cAdvisor measuring the same live containers (default 200), CPU per scrape, idle CPU, RSS';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const note = (s: string) => process.stderr.write(`${s}\n`);

const kbToMb = (kb: number) => round(kb / 1024, 1);

/**
 * Where a process's resident memory is, from the kernel alone (no inspector):
 * smaps_rollup's anonymous and file-backed parts, and the resident pages of
 * the node binary's own mappings (its text, read-only data and ICU tables).
 */
export function rssBreakdown(pid: number) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  let binaryKb = 0;
  let inExe = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inExe = head[1] !== '' && head[1] === realpathSync(exe);
    else if (inExe) binaryKb += Number(/^Rss:\s+(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return {
    rss_mb: kbToMb(field('Rss')),
    anon_mb: kbToMb(field('Anonymous')),
    file_mb: kbToMb(field('Rss') - field('Anonymous') - field('Shmem')),
    binary_mb: kbToMb(binaryKb),
  };
}

/**
 * The floor: a Node process of the same binary and agent flags doing nothing
 * (`setInterval(() => {}, 1e6)`), so the report says what no agent code can go under.
 */
async function nodeFloor(nodeArgs: string[]) {
  const child = spawn(process.execPath, [...nodeArgs, '-e', 'setInterval(() => {}, 1e6)'], {
    stdio: 'ignore',
  });
  try {
    await sleep(1500);
    return rssBreakdown(child.pid ?? 0);
  } finally {
    child.kill();
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(m?.[1] ?? 0) / 1024, 1);
}

/** The product as it ships: dist/ (tsc, incremental), run even if someone edits a source meanwhile. */
function buildDist(): void {
  const r = spawnSync(
    process.execPath,
    [`${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) note(`bench: tsc exited ${r.status} (errors elsewhere in the tree still emit)`);
  if (!existsSync(`${ROOT}dist/sidecar/metrics/collector.js`)) throw new Error('bench: dist/ was not built');
}

interface Measured {
  cpuMsPerScrape: number[];
  scrapeMs: number[];
  windowCpuS: number;
  windowS: number;
  bodyBytes: number;
}

/** Scrapes `url` every `intervalS` for `scrapes` times, with `pid`'s CPU around each scrape and over the window. */
async function measure(pid: number, url: string, intervalS: number, scrapes: number, offsetMs: number) {
  const out: Measured = { cpuMsPerScrape: [], scrapeMs: [], windowCpuS: 0, windowS: 0, bodyBytes: 0 };
  await sleep(offsetMs);
  const c0 = cpuSeconds(pid);
  const w0 = performance.now();
  for (let i = 0; i < scrapes; i++) {
    const s0 = threadCpuSeconds(pid);
    const t0 = performance.now();
    const res = await fetch(url, { headers: { accept: PROMETHEUS_ACCEPT } });
    out.bodyBytes = (await res.arrayBuffer()).byteLength;
    out.scrapeMs.push(performance.now() - t0);
    out.cpuMsPerScrape.push((threadCpuSeconds(pid) - s0) * 1000);
    await sleep(Math.max(0, w0 + (i + 1) * intervalS * 1000 - performance.now()));
  }
  out.windowS = (performance.now() - w0) / 1000;
  out.windowCpuS = cpuSeconds(pid) - c0;
  return out;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      interval: { type: 'string', default: '10' },
      scrapes: { type: 'string', default: '6' },
      // Node options for the agent, e.g. --node-args=--max-semi-space-size=1 (RSS experiments).
      'node-args': { type: 'string', default: '' },
      // Environment for the agent, e.g. --agent-env=MALLOC_ARENA_MAX=2 (repeatable).
      'agent-env': { type: 'string', multiple: true, default: [] },
      // The agent's bridge is a leased /24 (253 addresses): past ~250 containers run them with --network none.
      network: { type: 'string', default: 'bridge' },
      // cAdvisor as shipped (1 s housekeeping backing off to 60 s) instead of once per scrape interval.
      'cadvisor-defaults': { type: 'boolean', default: false },
    },
  });
  const n = Number(positionals[0] ?? 200);
  const intervalS = Number(values.interval);
  const scrapes = Number(values.scrapes);
  const network = values.network ?? 'bridge';
  if (!Number.isInteger(n) || n < 1 || !(intervalS > 0) || !Number.isInteger(scrapes) || scrapes < 2) {
    throw new Error(
      `usage: npm run bench -- vs-cadvisor [CONTAINERS] [--interval SECONDS] [--scrapes N>=2], got ${args.join(' ')}`,
    );
  }
  buildDist();
  let agent: TestAgent | undefined;
  let cadvisor: CadvisorHandle | undefined;
  const dir = await tempDir('berth-vs-cadvisor-');
  try {
    const nodeArgs = (values['node-args'] ?? '').split(' ').filter((x) => x !== '');
    const agentEnv: Record<string, string> = { BERTH_FROM_SOURCE: '0' };
    for (const kv of values['agent-env'] ?? []) {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`--agent-env wants KEY=VALUE, got ${JSON.stringify(kv)}`);
      agentEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    agent = await startAgent({ agentEnv, nodeArgs });
    const a = agent;
    const ref = 'bench/busybox:vs-cadvisor';
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    if ((await a.cli(['load', '-i', tar])).code !== 0) throw new Error('berth load failed');
    const t0 = performance.now();
    const ids: string[] = [];
    // A few CLI processes at a time: each is a node start, and the machine has 2 cores.
    for (let i = 0; i < n; i += 5) {
      const batch = Array.from({ length: Math.min(5, n - i) }, (_, j) =>
        a.cli(['run', '-d', '--network', network, '--name', `vs-${i + j}`, ref, 'sleep', '3600']),
      );
      for (const r of await Promise.all(batch)) {
        if (r.code !== 0) throw new Error(`berth run: ${r.stderr}`);
        ids.push(r.stdout.trim());
      }
    }
    note(`vs-cadvisor: ${n} containers started in ${Math.round(performance.now() - t0)} ms`);
    const cgroups = ids.map((id) => `/berth/${id}`);
    cadvisor = await startCadvisor({
      prefixes: cgroups,
      dir,
      ...(values['cadvisor-defaults'] ? {} : { housekeeping: `${intervalS}s`, dynamicHousekeeping: false }),
    });
    const berthUrl = String(((await a.info()).endpoints as Record<string, string>).metrics);
    const agentPid = a.process().pid;
    const cadvisorPid = cadvisor.process.pid;
    // cAdvisor has found every cgroup and housekept each once; berth has compiled its scrape path.
    const seen = async () => {
      const body = await (await fetch(cadvisor?.url ?? '')).text();
      return new Set(
        [...body.matchAll(/^container_memory_usage_bytes\{id="(\/berth\/[0-9a-f]+)"/gm)].map((m) => m[1]),
      ).size;
    };
    for (let i = 0; i < 120 && (await seen()) < n; i++) await sleep(1000);
    if ((await seen()) < n) throw new Error(`cAdvisor sees ${await seen()} of ${n} containers after 2 min`);
    await fetch(berthUrl, { headers: { accept: PROMETHEUS_ACCEPT } }).then((r) => r.arrayBuffer());
    await sleep(2 * intervalS * 1000);

    // Both windows at once; berth's scrapes half an interval after cAdvisor's so neither's spikes meet.
    const [b, c] = await Promise.all([
      measure(agentPid, berthUrl, intervalS, scrapes, (intervalS * 1000) / 2),
      measure(cadvisorPid, cadvisor.url, intervalS, scrapes, 0),
    ]);
    const berthCpu = median(b.cpuMsPerScrape);
    const cadvisorCpu = (c.windowCpuS * 1000) / scrapes;
    const berthTotal = (b.windowCpuS * 1000) / scrapes;
    const idlePct = (m: Measured) =>
      ((m.windowCpuS - m.cpuMsPerScrape.reduce((x, y) => x + y, 0) / 1000) / m.windowS) * 100;
    const berthRss = rssMb(agentPid);
    // Where the agent's RSS is: V8's heap (its own process metrics) and the file-backed pages (node's binary).
    const body = await (await fetch(berthUrl)).text();
    const mb = (name: string) =>
      round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(body)?.[1] ?? 0) / 1048576, 1);
    const status = readFileSync(`/proc/${agentPid}/status`, 'utf8');
    const statusMb = (f: string) =>
      round(Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024, 1);
    const cadvisorRss = rssMb(cadvisorPid);
    const parts = rssBreakdown(agentPid);
    // The agent's own node flags (src/bin/berth.js adds its defaults unless --node-args sets the semi-space).
    const argv = readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0');
    const scriptAt = argv.findIndex((a, i) => i > 0 && (a === '--' || a.endsWith('berth.js')));
    const agentFlags = argv.slice(1, scriptAt < 0 ? 1 : scriptAt);
    const floorFlags = agentFlags.filter((a) =>
      /^--(max-semi-space-size|max-old-space-size|lite-mode|v8-)/.test(a),
    );
    const floor = await nodeFloor(floorFlags);
    return {
      containers: n,
      network,
      cadvisor_housekeeping: values['cadvisor-defaults']
        ? '1s, dynamic (its defaults)'
        : `${intervalS}s, fixed`,
      scrape_interval_s: intervalS,
      scrapes,
      berth_cpu_ms_per_scrape: round(berthCpu, 1),
      cadvisor_cpu_ms_per_scrape: round(cadvisorCpu, 1),
      cpu_per_scrape_ratio: round(berthCpu / cadvisorCpu, 3),
      berth_total_cpu_ms_per_scrape: round(berthTotal, 1),
      total_cpu_per_scrape_ratio: round(berthTotal / cadvisorCpu, 3),
      berth_rss_mb: berthRss,
      cadvisor_rss_mb: cadvisorRss,
      rss_ratio: round(berthRss / cadvisorRss, 3),
      berth_rss_anon_mb: statusMb('RssAnon'),
      berth_rss_file_mb: statusMb('RssFile'),
      berth_rss_node_binary_mb: parts.binary_mb,
      berth_heap_used_mb: mb('berth_nodejs_heap_size_used_bytes'),
      berth_heap_total_mb: mb('berth_nodejs_heap_size_total_bytes'),
      berth_external_mb: mb('berth_nodejs_external_memory_bytes'),
      berth_anon_outside_heap_mb: round(statusMb('RssAnon') - mb('berth_nodejs_heap_size_total_bytes'), 1),
      node_floor_rss_mb: floor.rss_mb,
      node_floor_file_mb: floor.file_mb,
      node_floor_flags: floorFlags.join(' '),
      berth_node_args: nodeArgs.join(' '),
      berth_agent_node_flags: agentFlags.join(' '),
      berth_agent_env: (values['agent-env'] ?? []).join(' '),
      berth_idle_cpu_pct: round(idlePct(b), 2),
      cadvisor_idle_cpu_pct: round(idlePct(c), 2),
      berth_scrape_ms_median: round(median(b.scrapeMs), 1),
      cadvisor_scrape_ms_median: round(median(c.scrapeMs), 1),
      berth_body_bytes: b.bodyBytes,
      cadvisor_body_bytes: c.bodyBytes,
      cadvisor_scrape_cpu_ms_median: round(median(c.cpuMsPerScrape), 1),
    };
  } finally {
    await cadvisor?.stop();
    // Removes every container, the bridge and the state.
    await agent?.stop();
    await removeDir(dir);
  }
}
