import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { type PrometheusHandle, startPrometheus } from '../../harness/prometheus.js';

describe('harness: prometheus', () => {
  const metric = `berth_harness_smoke_${randomBytes(3).toString('hex')}_total`;
  const registry = new Registry();
  const counter = new Counter({
    name: metric,
    help: 'smoke test counter',
    labelNames: ['kind'],
    registers: [registry],
  });
  let server: Server;
  let prom: PrometheusHandle | undefined;

  before(async () => {
    counter.inc({ kind: 'smoke' }, 42);
    server = createServer((_req, res) => {
      registry.metrics().then(
        (text) => {
          res.setHeader('content-type', registry.contentType);
          res.end(text);
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    prom = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
  });

  after(async () => {
    await prom?.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('scrapes a prom-client endpoint and returns the counter through the query API', async () => {
    assert.ok(prom);
    const series = await prom.waitForSeries(`${metric}{kind="smoke"}`, 10_000);
    assert.equal(series.length, 1);
    const [sample] = series;
    assert.equal(sample?.metric.job, 'berth-test');
    assert.equal(sample?.metric.kind, 'smoke');
    assert.equal(sample?.value[1], '42');
  });

  it('reports a PromQL error as an exception', async () => {
    assert.ok(prom);
    await assert.rejects(prom.query('sum(('), /prometheus query/);
  });
});
