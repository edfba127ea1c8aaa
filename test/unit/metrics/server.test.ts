import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isUnavailable } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { MetricsCollector } from '../../../sidecar/metrics/collector.js';
import { MetricsServer, negotiate } from '../../../sidecar/metrics/server.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { fixtureContainers, fixtureRoots, WEB_ID, WORKER_ID } from './fixture-source.js';
import { copyFixture, type Running, samples, startServer, value } from './helpers.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('content negotiation', () => {
  let run: Running;
  before(async () => {
    run = await startServer(fixtureContainers(), fixtureRoots('v2'));
  });
  after(async () => {
    await run?.stop();
  });

  test('Prometheus text 0.0.4 without an Accept header', async () => {
    const r = await run.scrape();
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(r.body.includes('# TYPE container_cpu_usage_seconds_total counter'));
    assert.ok(!r.body.includes('# EOF'));
  });

  test("OpenMetrics for Prometheus's own Accept header, and plain text still correct afterwards", async () => {
    const om = await run.scrape(PROMETHEUS_ACCEPT);
    assert.equal(om.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(om.body.endsWith('# EOF\n'));
    // OpenMetrics names the counter family without _total and its samples with it.
    assert.ok(om.body.includes('# TYPE container_cpu_usage_seconds counter'));
    assert.equal(samples(om.body, 'container_cpu_usage_seconds_total').length, 2);
    // A cAdvisor counter without _total keeps its name (typed unknown), so dashboards see the same series.
    assert.ok(om.body.includes('# TYPE container_memory_failcnt unknown'));
    assert.equal(samples(om.body, 'container_memory_failcnt').length, 2);
    assert.equal(samples(om.body, 'container_memory_failcnt_total').length, 0);
    assert.ok(om.body.includes('# TYPE berth_process_cpu_user_seconds counter'));
    // prom-client renames counters in place for OpenMetrics; the text registry must not see that.
    const text = await run.scrape('text/plain');
    assert.ok(text.body.includes('# TYPE container_cpu_usage_seconds_total counter'));
    assert.ok(text.body.includes('# TYPE berth_process_cpu_user_seconds_total counter'));
    assert.equal(samples(text.body, 'container_memory_failcnt').length, 2);
  });

  test('agent self-metrics carry the berth_ prefix', async () => {
    const r = await run.scrape();
    assert.ok(samples(r.body, 'berth_process_resident_memory_bytes').length === 1);
    assert.ok(samples(r.body, 'berth_nodejs_heap_size_used_bytes').length === 1);
    assert.ok((value(r.body, 'berth_metrics_scrape_duration_seconds', '') ?? -1) >= 0);
  });

  test('Accept parsing: q=0 refuses OpenMetrics, other types fall back to text', () => {
    assert.equal(negotiate(undefined), 'prometheus');
    assert.equal(negotiate('*/*'), 'prometheus');
    assert.equal(negotiate('application/openmetrics-text; version=1.0.0'), 'openmetrics');
    assert.equal(negotiate('application/openmetrics-text;q=0, text/plain'), 'prometheus');
  });

  test('a port in use is Unavailable, naming the address', async () => {
    const port = Number(new URL(run.url).port);
    const collector = new MetricsCollector({
      source: new FakeContainerSource([]),
      roots: fixtureRoots('v2'),
      logger: silentLogger(),
    });
    const second = new MetricsServer({ collector, logger: silentLogger(), port });
    await assert.rejects(
      second.start(),
      (err: Error) => isUnavailable(err) && err.message.includes(`127.0.0.1:${port}`),
    );
  });

  test('other paths are 404 and other methods 405', async () => {
    const base = run.url.replace('/metrics', '');
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(run.url, { method: 'POST' })).status, 405);
  });
});

describe('vanished containers', () => {
  for (const version of ['v1', 'v2'] as const) {
    test(`${version}: a container whose cgroup disappears is dropped and counted, the scrape still succeeds`, async () => {
      const tree = await copyFixture(version);
      const run = await startServer(fixtureContainers().slice(0, 2), tree.roots);
      try {
        const first = await run.scrape();
        assert.equal(value(first.body, 'berth_metrics_containers', ''), 2);
        assert.equal(
          samples(first.body, 'berth_metrics_skipped_total').filter((l) => l.includes('vanished')).length,
          0,
        );

        // The worker exits: its cgroups are removed while the source still lists it.
        const controllers = version === 'v1' ? ['cpu,cpuacct', 'memory', 'blkio', 'pids'] : [''];
        for (const c of controllers)
          await rm(join(tree.roots.cgroup, c, 'berth', WORKER_ID), { recursive: true });

        const second = await run.scrape();
        assert.equal(second.status, 200);
        assert.equal(value(second.body, 'berth_metrics_containers', ''), 1);
        assert.equal(value(second.body, 'berth_metrics_skipped_total', 'reason="vanished"'), 1);
        assert.equal(samples(second.body, 'container_memory_usage_bytes').length, 1);
        assert.ok(!second.body.includes(WORKER_ID));
        assert.ok(samples(second.body, 'container_memory_usage_bytes')[0]?.includes(WEB_ID));
        for (const line of samples(second.body, 'berth_metrics_collector_success'))
          assert.ok(line.endsWith(' 1'), line);
      } finally {
        await run.stop();
        await tree.remove();
      }
    });
  }

  test('a process that exited (no /proc/<pid>) drops that container, counted under the collector that noticed', async () => {
    const tree = await copyFixture('v2');
    const run = await startServer(fixtureContainers().slice(0, 2), tree.roots);
    try {
      await rm(join(tree.roots.proc, '5151'), { recursive: true });
      const r = await run.scrape();
      assert.equal(r.status, 200);
      assert.equal(value(r.body, 'berth_metrics_skipped_total', 'collector="network",reason="vanished"'), 1);
      assert.equal(value(r.body, 'berth_metrics_containers', ''), 1);
    } finally {
      await run.stop();
      await tree.remove();
    }
  });

  test('an unreadable file fails only its collector: success 0, counted as error, other series served', async () => {
    const tree = await copyFixture('v2');
    const run = await startServer(fixtureContainers().slice(0, 2), tree.roots);
    try {
      await writeFile(join(tree.roots.cgroup, 'berth', WORKER_ID, 'memory.current'), 'garbage\n');
      const r = await run.scrape();
      assert.equal(r.status, 200);
      assert.equal(value(r.body, 'berth_metrics_collector_success', 'collector="memory"'), 0);
      assert.equal(value(r.body, 'berth_metrics_collector_success', 'collector="cpu"'), 1);
      assert.equal(value(r.body, 'berth_metrics_skipped_total', 'collector="memory",reason="error"'), 1);
      assert.equal(value(r.body, 'berth_metrics_containers', ''), 2);
      assert.equal(samples(r.body, 'container_memory_usage_bytes').length, 1);
      assert.equal(samples(r.body, 'container_cpu_usage_seconds_total').length, 2);
    } finally {
      await run.stop();
      await tree.remove();
    }
  });

  test('exited containers are not measured and not counted as vanished', async () => {
    const [web, worker] = fixtureContainers();
    assert.ok(web && worker);
    const run = await startServer([web, { ...worker, state: 'exited' }], fixtureRoots('v2'));
    try {
      const r = await run.scrape();
      assert.equal(value(r.body, 'berth_metrics_containers', ''), 1);
      assert.ok(!r.body.includes(WORKER_ID));
      assert.equal(
        samples(r.body, 'berth_metrics_skipped_total').filter((l) => l.includes('vanished')).length,
        0,
      );
    } finally {
      await run.stop();
    }
  });

  test('a source that cannot list still serves machine and self metrics, with source success 0', async () => {
    const run = await startServer([], fixtureRoots('v2'));
    run.source.list = async () => {
      throw new Error('runtime unavailable');
    };
    try {
      const r = await run.scrape();
      assert.equal(r.status, 200);
      assert.equal(value(r.body, 'berth_metrics_collector_success', 'collector="source"'), 0);
      assert.equal(value(r.body, 'machine_cpu_cores', ''), 4);
    } finally {
      await run.stop();
    }
  });
});
