/**
 * Every panel of the dashboards against what a user would run: a real agent
 * with real containers doing CPU, memory, network and block IO work, a real
 * HAProxy with its exporter, and a real Prometheus scraping both every
 * second. Each panel query goes through Prometheus' HTTP API with Grafana's
 * variables substituted. The host/containers dashboard must answer every
 * query; the log and discovery dashboards' queries are run and the ones
 * without data are listed with the metrics Prometheus lacks (their metrics
 * are wired into the agent by another change).
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { type HaproxyHandle, startHaproxy } from '../../harness/haproxy.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { type PrometheusHandle, startPrometheus } from '../../harness/prometheus.js';
import {
  type DashboardFile,
  loadDashboards,
  metricNames,
  type PanelQuery,
  panelQueries,
  substitute,
} from '../../unit/dashboards/dashboard-file.js';

const IMAGE = 'test/busybox:dash';
/** The dashboard every query of which must return data now. */
const REQUIRED = 'berth-overview.json';

let agent: TestAgent | undefined;
let prom: PrometheusHandle | undefined;
let haproxy: HaproxyHandle | undefined;
let dashboards: DashboardFile[];
const traffic = new AbortController();
let trafficDone: Promise<void> = Promise.resolve();

async function ok(args: string[]): Promise<string> {
  if (!agent) throw new Error('no agent');
  const r = await agent.cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function inspect(name: string): Promise<Record<string, unknown>> {
  const [d] = JSON.parse(await ok(['inspect', name])) as Array<Record<string, unknown>>;
  assert.ok(d, `inspect ${name} printed nothing`);
  return d;
}

/**
 * The whole-disk `major:minor` under `path`: blk-throttle rules are per disk,
 * not per partition. Linux dev_t: major in bits 8–19 (+ 32–43), minor in 0–7 (+ 12–31).
 */
async function diskOf(path: string): Promise<string> {
  const dev = (await stat(path, { bigint: true })).dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const sys = `/sys/dev/block/${major}:${minor}`;
  const isPartition = await stat(`${sys}/partition`).then(
    () => true,
    () => false,
  );
  return isPartition ? (await readFile(`${sys}/../dev`, 'utf8')).trim() : `${major}:${minor}`;
}

/** Fetches the published port until aborted: network counters move on every scrape. */
async function fetchLoop(url: string, signal: AbortSignal): Promise<void> {
  // Bounded in count as well as by the test's abort.
  for (let i = 0; i < 10_000 && !signal.aborted; i++) {
    await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined);
    await sleep(50, undefined, { signal }).catch(() => undefined);
  }
}

interface Outcome {
  q: PanelQuery;
  series: number;
  error?: string;
}

async function runAll(queries: PanelQuery[]): Promise<Outcome[]> {
  const p = prom;
  if (!p) throw new Error('no prometheus');
  const out: Outcome[] = [];
  for (const q of queries) {
    try {
      out.push({ q, series: (await p.query(substitute(q.expr))).length });
    } catch (err) {
      out.push({ q, series: 0, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

const label = (o: Outcome) => `${o.q.dashboard} panel ${o.q.panelId} "${o.q.panel}" target ${o.q.refId}`;

describe('dashboard panels against a real agent, containers, HAProxy and Prometheus', () => {
  before(async () => {
    dashboards = await loadDashboards();
    agent = await startAgent();
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    await ok(['load', '-i', tar]);
    // CPU bound at 0.2 cores: CFS throttles it every period.
    await ok(['run', '-d', '--name', 'busy', '--cpus', '0.2', IMAGE, 'sh', '-c', 'while true; do :; done']);
    // ~8 MB of anonymous memory in a shell variable under a memory limit, plus page cache from the file.
    await ok([
      'run',
      '-d',
      '--name',
      'mem',
      '--memory',
      '64m',
      IMAGE,
      'sh',
      '-c',
      "head -c 8000000 /dev/zero | tr '\\0' a > /big; x=$(cat /big); while true; do sleep 1; done",
    ]);
    await ok([
      'run',
      '-d',
      '--name',
      'web',
      '-p',
      '127.0.0.1:0:8080',
      IMAGE,
      'sh',
      '-c',
      'head -c 20000 /dev/zero > /index.html; httpd -f -p 8080 -h /',
    ]);
    // Direct IO: buffered writes are charged to the root cgroup on v1.
    await ok([
      'run',
      '-d',
      '--name',
      'io',
      IMAGE,
      'sh',
      '-c',
      'while true; do dd if=/dev/zero of=/f bs=64k count=16 oflag=direct 2>/dev/null; dd if=/f of=/dev/null bs=64k iflag=direct 2>/dev/null; sleep 0.5; done',
    ]);
    // Kernels since 6.9 only account blkio.throttle.* once blk-throttle is active on the
    // disk: a rule that never limits (1 TiB/s) on this container's own cgroup turns it on.
    const io = await inspect('io');
    await writeFile(
      `/sys/fs/cgroup/blkio${String(io.cgroupPath)}/blkio.throttle.write_bps_device`,
      `${await diskOf(agent.stateRoot)} 1099511627776`,
    );

    const web = await inspect('web');
    const hostPort =
      (web.ports as Array<{ hostPort: number; containerPort: number }>).find((p) => p.containerPort === 8080)
        ?.hostPort ?? 0;
    assert.ok(hostPort > 0, JSON.stringify(web.ports));

    const promexPort = await freePort();
    const lbPort = await freePort();
    haproxy = await startHaproxy(
      [
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        'frontend stats',
        `  bind 127.0.0.1:${promexPort}`,
        '  http-request use-service prometheus-exporter if { path /metrics }',
        'frontend web',
        `  bind 127.0.0.1:${lbPort}`,
        '  default_backend be_web',
        'backend be_web',
        `  server web1 127.0.0.1:${hostPort} check inter 1s`,
        '',
      ].join('\n'),
    );

    const info = await agent.info();
    const metricsUrl = new URL(String((info.endpoints as Record<string, string>).metrics));
    prom = await startPrometheus({
      targets: [metricsUrl.host],
      scrapeInterval: '1s',
      extraScrapeConfigs: [
        { job_name: 'haproxy', static_configs: [{ targets: [`127.0.0.1:${promexPort}`] }] },
      ],
    });
    trafficDone = fetchLoop(`http://127.0.0.1:${lbPort}/index.html`, traffic.signal);

    // Rates over 30s need two samples; throttling and IO need a few seconds of work.
    const p = prom;
    await p.waitForSeries('count_over_time(berth_metrics_scrapes_total[30s]) >= 6', 30_000);
    await pollUntil(
      'network, IO and throttling visible in Prometheus',
      async () => {
        const checks = await Promise.all([
          p.query('rate(container_network_receive_bytes_total{name="web"}[30s]) > 0'),
          p.query('rate(container_fs_writes_bytes_total{name="io"}[30s]) > 0'),
          p.query('rate(container_cpu_cfs_throttled_periods_total{name="busy"}[30s]) > 0'),
          p.query('haproxy_backend_active_servers{proxy="be_web"} > 0'),
        ]);
        return checks.every((c) => c.length > 0) ? true : undefined;
      },
      20_000,
      500,
    );
  });

  after(async () => {
    traffic.abort();
    await trafficDone;
    await prom?.stop();
    await haproxy?.stop();
    await agent?.stop();
  });

  test(`every panel of ${REQUIRED} returns data`, async () => {
    const d = dashboards.find((x) => x.file === REQUIRED);
    assert.ok(d, `${REQUIRED} not found`);
    const outcomes = await runAll(panelQueries(d));
    assert.ok(outcomes.length > 30, `only ${outcomes.length} queries`);
    const empty = outcomes.filter((o) => o.series === 0).map((o) => `${label(o)}: ${o.error ?? 'no data'}`);
    assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);
  });

  test('the values are the containers’ own: throttled, limited, IO and traffic on the right containers', async () => {
    const p = prom;
    assert.ok(p);
    const one = async (q: string) => Number((await p.query(q))[0]?.value[1] ?? Number.NaN);
    // A short window: the containers have run for only a few seconds, and a longer one would dilute the rate.
    const cpu = await one('sum(rate(container_cpu_usage_seconds_total{name="busy"}[5s]))');
    // --cpus 0.2: busy up to its quota, never above it (slack for sampling jitter).
    assert.ok(cpu > 0.05 && cpu < 0.3, `busy used ${cpu} cores`);
    assert.equal(await one('container_spec_memory_limit_bytes{name="mem"}'), 64 * 1024 * 1024);
    assert.ok((await one('container_memory_rss{name="mem"}')) > 7_000_000, 'mem holds ~8 MB');
    assert.ok((await one('sum(rate(container_network_transmit_bytes_total{name="web"}[5s]))')) > 10_000);
  });

  test('log and discovery panels: run, and those without data listed with the metrics not exported yet', async (t) => {
    const others = dashboards.filter((x) => x.file !== REQUIRED);
    const outcomes = await runAll(others.flatMap(panelQueries));
    // A query Prometheus rejects is a bug in the dashboard whatever the agent exports.
    const errors = outcomes.filter((o) => o.error).map((o) => `${label(o)}: ${o.error}`);
    assert.deepEqual(errors, [], errors.join('\n'));
    const p = prom;
    assert.ok(p);
    const present = new Set(
      (await p.query('count by (__name__) ({__name__=~"berth_.+|haproxy_.+"})')).map(
        (s) => s.metric.__name__,
      ),
    );
    const pending = outcomes.filter((o) => o.series === 0);
    const missing = new Set(pending.flatMap((o) => metricNames(o.q.expr)).filter((m) => !present.has(m)));
    for (const o of pending) {
      const lacks = metricNames(o.q.expr).filter((m) => !present.has(m));
      t.diagnostic(
        `NOT YET EXPORTED — ${label(o)}: no data (missing: ${lacks.join(', ') || 'none; query returned nothing'})`,
      );
    }
    t.diagnostic(
      `${outcomes.length - pending.length}/${outcomes.length} log/discovery targets return data; ` +
        `metrics not exported yet: ${[...missing].sort().join(', ') || 'none'}`,
    );
    // HAProxy's exporter is real here: its panels must answer.
    const haproxyEmpty = pending.filter((o) => metricNames(o.q.expr).every((m) => m.startsWith('haproxy_')));
    assert.deepEqual(haproxyEmpty.map(label), [], 'HAProxy exporter panels without data');
  });
});
