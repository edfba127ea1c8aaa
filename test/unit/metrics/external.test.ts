/**
 * Other components' metrics on /metrics through `registerExternal`: the log
 * pipeline's, the DNS server's and the catalog's counters as a user scraping
 * the endpoint sees them, and a misbehaving provider failing only itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { catalogFamilies } from '../../../sidecar/discovery/metrics.js';
import type { CatalogView } from '../../../sidecar/discovery/types.js';
import { DnsCounters } from '../../../sidecar/dns/counters.js';
import { dnsFamilies } from '../../../sidecar/dns/metrics.js';
import { logPipelineFamilies } from '../../../sidecar/logs/metrics.js';
import type { LogPipelineMetrics } from '../../../sidecar/logs/pipeline.js';
import { MetricsCollector } from '../../../sidecar/metrics/collector.js';
import { MetricsServer } from '../../../sidecar/metrics/server.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { fixtureContainers, fixtureRoots } from './fixture-source.js';

function logMetrics(over: Partial<LogPipelineMetrics> = {}): LogPipelineMetrics {
  return {
    linesRead: 120,
    recordsShipped: 100,
    batchesRetried: 3,
    recordsDropped: 2,
    recordsSpooled: 40,
    malformedLines: 1,
    rotations: 4,
    readerPauses: 5,
    containers: 2,
    spooledBytes: 8192,
    backlog: 18,
    perContainer: {},
    ...over,
  };
}

const view: CatalogView = {
  index: 7,
  stale: false,
  instances: [
    {
      id: 'h:web-1:80',
      service: 'web',
      tags: [],
      meta: {},
      address: '10.0.0.2',
      port: 80,
      node: 'h',
      health: 'passing',
    },
    {
      id: 'h:web-2:80',
      service: 'web',
      tags: [],
      meta: {},
      address: '10.0.0.3',
      port: 80,
      node: 'h',
      health: 'critical',
    },
    {
      id: 'h:db-1:5432',
      service: 'db',
      tags: [],
      meta: {},
      address: '10.0.0.4',
      port: 5432,
      node: 'h',
      health: 'passing',
    },
  ],
};

describe('registerExternal: other components on /metrics', () => {
  let server: MetricsServer;
  let collector: MetricsCollector;
  let url: string;
  let logs = logMetrics();
  const dns = new DnsCounters();

  before(async () => {
    collector = new MetricsCollector({
      source: new FakeContainerSource(fixtureContainers()),
      roots: fixtureRoots('v1'),
      logger: silentLogger(),
    });
    collector.registerExternal('logs', () => logPipelineFamilies(logs));
    collector.registerExternal('dns', () => dnsFamilies(dns.snapshot()));
    collector.registerExternal('discovery', () => catalogFamilies(view));
    server = new MetricsServer({ collector, logger: silentLogger(), host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(await server.start()).port}/metrics`;
  });
  after(async () => {
    await server?.stop();
  });

  const scrape = async (accept?: string) => (await fetch(url, accept ? { headers: { accept } } : {})).text();

  test('log pipeline, DNS and catalog families are served with their values, and follow changes', async () => {
    dns.query('A');
    dns.query('A');
    dns.query('SRV');
    dns.response('NOERROR');
    dns.forwarded++;
    dns.tcpRefused += 2;
    dns.forwardsRefused++;
    let body = await scrape();
    assert.match(body, /^# TYPE berth_logs_records_read_total counter$/m);
    assert.match(body, /^berth_logs_records_read_total 120$/m);
    assert.match(body, /^berth_logs_records_shipped_total 100$/m);
    assert.match(body, /^berth_logs_spool_bytes 8192$/m);
    assert.match(body, /^berth_dns_queries_total\{qtype="A"\} 2$/m);
    assert.match(body, /^berth_dns_queries_total\{qtype="SRV"\} 1$/m);
    assert.match(body, /^berth_dns_forwarded_total 1$/m);
    // The DNS server's caps (issue 12 item 7) count what they refuse.
    assert.match(body, /^berth_dns_tcp_refused_total 2$/m);
    assert.match(body, /^berth_dns_tcp_paused_total 0$/m);
    assert.match(body, /^berth_dns_forwards_refused_total 1$/m);
    assert.match(body, /^berth_discovery_instances\{health="critical",service="web"\} 1$/m);
    assert.match(body, /^berth_discovery_instances\{health="maintenance",service="db"\} 0$/m);
    assert.match(body, /^berth_metrics_collector_success\{collector="logs"\} 1$/m);
    logs = logMetrics({ linesRead: 130 });
    body = await scrape();
    assert.match(body, /^berth_logs_records_read_total 130$/m);
  });

  test('OpenMetrics: counters as <family> with _total samples; promtool accepts both formats', async () => {
    const om = await scrape('application/openmetrics-text; version=1.0.0');
    assert.match(om, /^# TYPE berth_logs_retries counter$/m);
    assert.match(om, /^berth_logs_retries_total 3$/m);
    assert.match(om, /# EOF\n$/);
    const text = await scrape();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
    const findings = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => /berth_(logs|dns|discovery)_/.test(l));
    assert.deepEqual(findings, [], 'promtool lint findings on the external families');
  });

  test('a provider that throws or breaks the rules fails only itself', async () => {
    const offBroken = collector.registerExternal('broken', () => {
      throw new Error('boom');
    });
    const offClash = collector.registerExternal('clash', () => [
      { name: 'container_memory_rss', type: 'gauge', help: 'x', samples: [{ labels: {}, value: 1 }] },
    ]);
    const offRetype = collector.registerExternal('retype', () => [
      { name: 'berth_logs_spool_bytes', type: 'counter', help: 'x', samples: [] },
    ]);
    const offDup = collector.registerExternal('dup', () => [
      {
        name: 'berth_dup_things',
        type: 'gauge',
        help: 'x',
        samples: [
          { labels: { a: '1' }, value: 1 },
          { labels: { a: '1' }, value: 2 },
        ],
      },
    ]);
    try {
      const body = await scrape();
      assert.match(body, /^berth_metrics_collector_success\{collector="broken"\} 0$/m);
      assert.match(body, /^berth_metrics_collector_success\{collector="clash"\} 0$/m);
      assert.match(body, /^berth_metrics_collector_success\{collector="retype"\} 0$/m);
      assert.match(body, /^berth_metrics_collector_success\{collector="dup"\} 0$/m);
      assert.doesNotMatch(body, /^berth_dup_things/m);
      assert.match(body, /^berth_metrics_skipped_total\{collector="broken",reason="error"\} \d+$/m);
      assert.match(body, /^berth_logs_records_read_total 130$/m);
      assert.match(body, /^container_cpu_usage_seconds_total\{/m);
      assert.equal(body.match(/^container_memory_rss\{/gm)?.length, 2, 'only the two containers');
    } finally {
      offBroken();
      offClash();
      offRetype();
      offDup();
    }
    // Removed: no more success/duration series; its skipped count stays, as counters do.
    const later = await scrape();
    assert.doesNotMatch(later, /^berth_metrics_collector_success\{collector="broken"\}/m);
    assert.match(later, /^berth_metrics_skipped_total\{collector="broken",reason="error"\} \d+$/m);
  });

  test('names are checked when registering', () => {
    assert.throws(() => collector.registerExternal('logs', () => []), /already registered/);
    assert.throws(() => collector.registerExternal('cpu', () => []), /already registered/);
    assert.throws(() => collector.registerExternal('Bad Name', () => []), /must match/);
  });
});
