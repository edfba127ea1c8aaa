/**
 * Every panel of the dashboards against what a user would run: a real agent
 * with real containers doing CPU, memory, network, block IO and logging
 * work, shipping their logs to a Forward receiver, registered in its catalog
 * and answered by its DNS, load-balanced by the agent's own HAProxy (with
 * HAProxy's Prometheus exporter enabled through a config template), and a
 * real Prometheus scraping the agent and that HAProxy every second. Each
 * panel query goes through Prometheus' HTTP API with Grafana's variables
 * substituted; every target of every dashboard must return data.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { cgroupFile, detectCgroups } from '../../../runtime/cgroups/detect.js';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { type PrometheusHandle, type PromSample, startPrometheus } from '../../harness/prometheus.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import {
  type DashboardFile,
  loadDashboards,
  type PanelQuery,
  panelQueries,
  substitute,
} from '../../unit/dashboards/dashboard-file.js';

const execFileAsync = promisify(execFile);
const IMAGE = 'test/busybox:dash';
const DASHBOARDS = ['berth-deploy.json', 'berth-discovery.json', 'berth-logs.json', 'berth-overview.json'];

let agent: TestAgent | undefined;
let prom: PrometheusHandle | undefined;
let receiver: ForwardReceiver | undefined;
let dir: string | undefined;
let dashboards: DashboardFile[];
let dnsPort = 0;
let lbPort = 0;
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

/** One `dig` against the agent's DNS server; answers are not the point here, the counters are. */
async function dig(name: string, type: string): Promise<void> {
  await execFileAsync(
    'dig',
    ['+short', '+time=1', '+tries=1', '@127.0.0.1', '-p', String(dnsPort), name, type],
    {
      timeout: 3000,
    },
  ).catch(() => undefined);
}

/**
 * HTTP through the agent's HAProxy frontend and DNS queries (found and not
 * found) until aborted, so traffic, response and query counters move on
 * every scrape. Bounded in count as well as by the test's abort.
 */
async function trafficLoop(signal: AbortSignal): Promise<void> {
  for (let i = 0; i < 10_000 && !signal.aborted; i++) {
    await fetch(`http://127.0.0.1:${lbPort}/index.html`, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]),
    })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined);
    if (i % 5 === 0) {
      await Promise.all([
        dig('web.service.consul', 'SRV'),
        dig('web.service.consul', 'A'),
        dig('nothing-here.service.consul', 'A'),
      ]);
    }
    await sleep(50, undefined, { signal }).catch(() => undefined);
  }
}

/** A labelled instance of the `web` service: registered, resolvable and behind the agent's HAProxy. */
function webArgs(name: string): string[] {
  return [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    '127.0.0.1:0:8080',
    '-l',
    'SERVICE_NAME=web',
    '-l',
    `berth.lb.port=${lbPort}`,
    '-l',
    'berth.lb.bind=127.0.0.1',
    IMAGE,
    'sh',
    '-c',
    'head -c 20000 /dev/zero > /index.html; httpd -f -p 8080 -h /',
  ];
}

interface Outcome {
  q: PanelQuery;
  /** Series with a number (NaN is what Grafana draws as nothing: 0/0 and the like). */
  series: number;
  error?: string;
}

async function runAll(queries: PanelQuery[]): Promise<Outcome[]> {
  const p = prom;
  if (!p) throw new Error('no prometheus');
  const out: Outcome[] = [];
  for (const q of queries) {
    try {
      const res = await p.query(substitute(q.expr));
      out.push({ q, series: res.filter((s) => !Number.isNaN(Number(s.value[1]))).length });
    } catch (err) {
      out.push({ q, series: 0, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/** true when every query returns a series; otherwise throws naming the empty ones (pollUntil reports the last). */
async function allSeries(p: PrometheusHandle, queries: string[]): Promise<true> {
  const results = await Promise.all(queries.map((q) => p.query(q)));
  const empty = queries.filter((_, i) => (results[i]?.length ?? 0) === 0);
  if (empty.length > 0) throw new Error(`no data yet for: ${empty.join(' | ')}`);
  return true;
}

const label = (o: Outcome) => `${o.q.dashboard} panel ${o.q.panelId} "${o.q.panel}" target ${o.q.refId}`;

describe('dashboard panels against a real agent, containers, log receiver, DNS, HAProxy and Prometheus', () => {
  before(async () => {
    dashboards = await loadDashboards();
    dir = await tempDir('berth-dash-');
    receiver = await ForwardReceiver.start();
    lbPort = await freePort();
    const promexPort = await freePort();
    // berth's HAProxy serves its Prometheus exporter (haproxy.exporterListen) for the traffic panels.
    agent = await startAgent({
      args: ['--host-ip', '127.0.0.1', '--fluentd', `127.0.0.1:${receiver.port}`],
      config: { haproxy: { exporterListen: `127.0.0.1:${promexPort}` } },
    });
    const info = await agent.info();
    const endpoints = info.endpoints as Record<string, string>;
    dnsPort = Number(/127\.0\.0\.1:(\d+)/.exec(endpoints.dns ?? '')?.[1] ?? 0);
    assert.ok(dnsPort > 0, `no DNS endpoint in berth info: ${JSON.stringify(endpoints)}`);
    assert.match(endpoints.logs ?? '', /^forward /, `log shipping not on: ${JSON.stringify(endpoints)}`);
    const metricsUrl = new URL(String(endpoints.metrics));
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    await ok(['load', '-i', tar]);

    // Scraping starts before the containers, so rates see their start-up (registrations, applies).
    prom = await startPrometheus({
      targets: [metricsUrl.host],
      scrapeInterval: '1s',
      extraScrapeConfigs: [
        { job_name: 'haproxy', static_configs: [{ targets: [`127.0.0.1:${promexPort}`] }] },
      ],
    });

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
    await ok(webArgs('web'));
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
    // Ten lines a second for the log pipeline.
    await ok([
      'run',
      '-d',
      '--name',
      'talker',
      IMAGE,
      'sh',
      '-c',
      'i=0; while true; do echo "talker line $i"; i=$((i+1)); sleep 0.1; done',
    ]);
    // Kernels since 6.9 only account blkio.throttle.* once blk-throttle is active on the
    // disk: a rule that never limits (1 TiB/s) on this container's own cgroup turns it on.
    // In this host's cgroup mode: v1/hybrid blkio.throttle.write_bps_device, v2 io.max.
    const io = await inspect('io');
    const cg = detectCgroups();
    const disk = await diskOf(agent.stateRoot);
    await writeFile(
      cg.version === 'v2'
        ? cgroupFile(cg, 'io', String(io.cgroupPath), 'io.max')
        : cgroupFile(cg, 'blkio', String(io.cgroupPath), 'blkio.throttle.write_bps_device'),
      cg.version === 'v2' ? `${disk} wbps=1099511627776` : `${disk} 1099511627776`,
    );

    trafficDone = trafficLoop(traffic.signal);

    // Rates over 30s need two samples; throttling and IO need a few seconds of work. The waits are
    // bounds, not expectations: generous, because this file runs beside the unit phase.
    const p = prom;
    await p.waitForSeries('count_over_time(berth_metrics_scrapes_total[30s]) >= 6', 30_000);
    const checks = [
      'rate(container_network_receive_bytes_total{name="web"}[30s]) > 0',
      'rate(container_fs_writes_bytes_total{name="io"}[30s]) > 0',
      'rate(container_cpu_cfs_throttled_periods_total{name="busy"}[30s]) > 0',
      'rate(berth_logs_records_shipped_total[30s]) > 0',
      'rate(berth_dns_queries_total{qtype="SRV"}[30s]) > 0',
      'berth_discovery_instances{service="web", health="passing"} == 1',
      'sum(rate(haproxy_backend_http_responses_total{proxy="be_web", code="2xx"}[30s])) > 0',
    ];
    await pollUntil(
      'network, IO, throttling, logs, DNS and HAProxy traffic visible in Prometheus',
      async () => allSeries(p, checks),
      90_000,
      500,
    );
    // Scale out while Prometheus watches: a registration and an HAProxy change inside every 30s window.
    await ok(webArgs('web-2'));
    await pollUntil(
      'the second instance registered and behind HAProxy',
      async () => {
        const [inst, up] = await Promise.all([
          p.query('berth_discovery_instances{service="web", health="passing"} == 2'),
          p.query('haproxy_backend_active_servers{proxy="be_web"} == 2'),
        ]);
        return inst.length > 0 && up.length > 0 ? true : undefined;
      },
      60_000,
      500,
    );

    // The Deploy dashboard: a Compose project brought up, a changed config rolled (start-first,
    // health-gated), a scale, and a file the CLI refuses, while Prometheus watches.
    const composeFile = join(dir, 'compose.yaml');
    const compose = (v: string) =>
      [
        'name: dash',
        'services:',
        '  app:',
        `    image: ${IMAGE}`,
        // Stops at once on SIGTERM (a shell as PID 1 ignores it), so the rollout is quick.
        `    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]`,
        `    environment: { V: "${v}" }`,
        '    healthcheck: { test: ["CMD", "true"], interval: 1s, timeout: 1s, retries: 2 }',
        '    deploy:',
        '      replicas: 2',
        '      update_config: { order: start-first, monitor: 1s }',
        '',
      ].join('\n');
    await writeFile(composeFile, compose('1'));
    await ok(['up', '-f', composeFile, '-d', '--wait']);
    await writeFile(composeFile, compose('2'));
    await ok(['up', '-f', composeFile, '-d', '--wait']);
    await ok(['scale', '-p', 'dash', 'app=3']);
    const badFile = join(dir, 'bad.yaml');
    await writeFile(badFile, 'name: dash\nservices:\n  app:\n    image: x\n    bogus: 1\n');
    const bad = await agent.cli(['up', '-f', badFile, '-d']);
    assert.notEqual(bad.code, 0, 'a file with an unknown key is refused');
    const deployChecks = [
      'increase(berth_deploy_rollouts_total{result="done"}[30s])',
      'increase(berth_deploy_applies_total{result="applied"}[30s])',
      'increase(berth_deploy_scales_total[30s])',
      'berth_deploy_service_replicas{project="dash", service="app", state="healthy"} == 3',
    ];
    await pollUntil(
      'the project, its rollout, scale and refused apply visible in Prometheus',
      async () => allSeries(p, deployChecks),
      90_000,
      500,
    );
  });

  after(async () => {
    await agent?.cli(['down', '-p', 'dash'], { timeoutMs: 60_000 }).catch(() => undefined);
    traffic.abort();
    await trafficDone;
    await prom?.stop();
    await agent?.stop();
    await receiver?.stop();
    if (dir) await removeDir(dir);
  });

  for (const file of DASHBOARDS) {
    test(`every panel of ${file} returns data`, async () => {
      const d = dashboards.find((x) => x.file === file);
      assert.ok(d, `${file} not found`);
      const outcomes = await runAll(panelQueries(d));
      assert.ok(outcomes.length > 10, `only ${outcomes.length} queries`);
      const empty = outcomes.filter((o) => o.series === 0).map((o) => `${label(o)}: ${o.error ?? 'no data'}`);
      assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);
    });
  }

  test('no dashboard is left out', () => {
    assert.deepEqual(
      dashboards.map((d) => d.file),
      DASHBOARDS,
    );
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
    assert.ok(
      (await one('sum(rate(container_network_transmit_bytes_total{name=~"web|web-2"}[5s]))')) > 10_000,
    );
  });

  test('the log, discovery, DNS and HAProxy numbers are the work the test did', async () => {
    const p = prom;
    const r = receiver;
    assert.ok(p && r);
    const one = async (q: string) => Number((await p.query(q))[0]?.value[1] ?? Number.NaN);
    // Monotonic counter scraped earlier vs the receiver's count now: never more acknowledged than arrived.
    const shipped = await one('berth_logs_records_shipped_total');
    assert.ok(shipped > 0, `shipped ${shipped}`);
    assert.ok(r.count >= shipped, `agent says ${shipped} shipped, the receiver has ${r.count}`);
    assert.ok(
      r.records().some((e) => String(JSON.stringify(e.record)).includes('talker line')),
      'the talker’s lines reached the receiver',
    );
    assert.ok((await one('berth_logs_records_read_total')) >= shipped);
    assert.ok((await one('berth_logs_containers')) >= 1);
    assert.equal(await one('sum(berth_discovery_instances{service="web"})'), 2);
    assert.ok((await one('berth_discovery_registrar_registered_total')) >= 2);
    const rcodes = new Set(
      (await p.query('berth_dns_responses_total > 0')).map((s: PromSample) => s.metric.rcode),
    );
    assert.ok(rcodes.has('NOERROR') && rcodes.has('NXDOMAIN'), `rcodes ${[...rcodes].join(', ')}`);
    assert.ok((await one('berth_dns_queries_total{qtype="SRV"}')) > 0);
    assert.ok((await one('berth_haproxy_backends')) >= 1);
    assert.equal(await one('berth_haproxy_servers{state="ready"}'), 2);
    assert.ok((await one('berth_haproxy_applies_total')) >= 2);
    assert.ok((await one('sum(haproxy_backend_http_responses_total{proxy="be_web", code="2xx"})')) > 0);
  });
});
