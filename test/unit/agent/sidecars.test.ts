/**
 * The composition root's sidecar loop (src/agent/sidecars.ts startInOrder)
 * over the `Sidecar` contract: start in order, close in reverse, an optional
 * sidecar that cannot start reported and skipped, a required one failing the
 * start and closing what did start; preStop hooks and metric providers
 * collected from the sidecars that started. Then the real factories (local
 * catalog, registrar, DNS, metrics) through the same loop: a DNS port in use
 * is reported as "not serving: …" and /metrics serves the others' families.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { validateConfig } from '../../../runtime/base/config.js';
import { createLogger, type Logger } from '../../../runtime/base/log.js';
import { createCatalogSidecar, createRegistrarSidecar } from '../../../sidecar/discovery/sidecar.js';
import { createDnsSidecar } from '../../../sidecar/dns/sidecar.js';
import { createMetricsSidecar, METRICS_CONFIG } from '../../../sidecar/metrics/index.js';
import type { MetricsProvider, Sidecar } from '../../../sidecar/types.js';
import type { PreStopHook } from '../../../src/agent/compose.js';
import { startInOrder } from '../../../src/agent/sidecars.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

/** A real pino logger whose JSON lines the test reads back. */
function capture(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (b: Buffer) => chunks.push(b.toString()));
  return {
    logger: createLogger({ level: 'debug', destination: out }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A sidecar that records its calls into `trace`. */
function fake(trace: string[], name: string, o: Partial<Sidecar> & { fail?: string } = {}): Sidecar {
  return {
    name,
    async start() {
      trace.push(`start ${name}`);
      if (o.fail) throw new Error(o.fail);
    },
    async close() {
      trace.push(`close ${name}`);
      if (o.close) await o.close();
    },
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.preStop ? { preStop: o.preStop } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.optional ? { optional: o.optional } : {}),
  };
}

describe('startInOrder: the Sidecar contract as the agent runs it', () => {
  test('starts in order, closes in reverse; endpoints, preStop hooks and providers of started ones', async () => {
    const trace: string[] = [];
    const hooks: PreStopHook[] = [];
    const providers: Array<[string, MetricsProvider]> = [];
    const { logger, lines } = capture();
    const families = () => [];
    const sidecars = [
      fake(trace, 'a', {
        endpoint: () => 'at a',
        preStop: async (d) => void trace.push(`preStop a ${d.name}`),
        metrics: { one: families, two: families },
      }),
      fake(trace, 'b', {
        fail: 'port in use',
        preStop: async () => void trace.push('preStop b'),
        metrics: { bee: families },
        optional: { status: 'not serving', warning: 'b: cannot listen', context: { port: 53 } },
      }),
      fake(trace, 'c', {
        endpoint: () => 'at c',
        preStop: async (d) => void trace.push(`preStop c ${d.name}`),
        metrics: { three: families },
        close: async () => {
          throw new Error('stuck');
        },
      }),
      fake(trace, 'd'),
    ];
    const { endpoints, close } = await startInOrder(sidecars, { logger, preStopHooks: hooks, providers });
    assert.deepEqual(trace, ['start a', 'start b', 'start c', 'start d']);
    assert.deepEqual(endpoints, { a: 'at a', b: 'not serving: port in use', c: 'at c' });
    assert.deepEqual(Object.keys(endpoints), ['a', 'b', 'c'], 'banner order is start order');
    assert.deepEqual(
      providers.map(([n]) => n),
      ['one', 'two', 'three'],
      'a sidecar that did not start exports nothing',
    );
    const warn = lines().find((l) => l.msg === 'b: cannot listen');
    assert.ok(warn, 'the optional failure is logged with its warning');
    assert.equal(warn.port, 53);
    assert.equal((warn.err as { message?: string }).message, 'port in use', 'the error, not its message');
    assert.ok(typeof (warn.err as { stack?: string }).stack === 'string', 'the stack survives');

    for (const h of hooks) await h(fakeDescriptor({ name: 'web' }));
    assert.deepEqual(trace.slice(4), ['preStop a web', 'preStop c web']);

    trace.length = 0;
    await close();
    assert.deepEqual(trace, ['close d', 'close c', 'close a'], 'reverse order, on past a failing close');
    const failed = lines().find((l) => l.msg === 'sidecar: close failed; closing the others');
    assert.equal(failed?.sidecar, 'c');
    trace.length = 0;
    await close();
    assert.deepEqual(trace, [], 'closing twice closes nothing twice');
  });

  test('a required sidecar that fails closes what started, in reverse, and fails the start', async () => {
    const trace: string[] = [];
    const { logger } = capture();
    const sidecars = [
      fake(trace, 'a'),
      fake(trace, 'b'),
      fake(trace, 'c', { fail: 'bad key file' }),
      fake(trace, 'd'),
    ];
    await assert.rejects(startInOrder(sidecars, { logger, preStopHooks: [], providers: [] }), /bad key file/);
    assert.deepEqual(trace, ['start a', 'start b', 'start c', 'close b', 'close a']);
  });
});

describe('the real sidecars through the loop', () => {
  let dir: string;
  let taken: Socket;
  let takenPort: number;
  let closeAll: () => Promise<void>;
  let endpoints: Record<string, string>;
  const source = new FakeContainerSource();
  const hooks: PreStopHook[] = [];

  before(async () => {
    dir = await tempDir('berth-sidecars-');
    taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    takenPort = taken.address().port;
    source.start({
      name: 'web-1',
      labels: { SERVICE_NAME: 'web' },
      addresses: { bridge: '10.88.0.7' },
      networkMode: 'bridge',
      ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }],
    });
    const { logger } = capture();
    const cat = createCatalogSidecar({ nodeName: 'n1', localPath: join(dir, 'catalog.json'), logger });
    const dnsServer = {
      view: () => cat.catalog.view(),
      nodeName: 'n1',
      upstreams: [],
      rateLimit: false as const,
    };
    const providers: Array<[string, MetricsProvider]> = [];
    const values = validateConfig(METRICS_CONFIG, [{ listen: '127.0.0.1:0' }], { prefix: 'metrics.' });
    const sidecars: Sidecar[] = [
      cat,
      createRegistrarSidecar({
        source,
        catalog: cat.catalog,
        host: { nodeName: 'n1', hostIp: '192.0.2.1' },
        drainMs: 0,
        logger,
      }),
      createDnsSidecar({
        source,
        server: { ...dnsServer, listen: [{ address: '127.0.0.1', port: takenPort }] },
        logger,
      }),
      createMetricsSidecar(values, source, logger, providers),
    ];
    ({ endpoints, close: closeAll } = await startInOrder(sidecars, {
      logger,
      preStopHooks: hooks,
      providers,
    }));
  });
  after(async () => {
    await closeAll?.();
    taken?.close();
    if (dir) await removeDir(dir);
  });

  test('endpoints as the banner shows them; DNS on a taken port is "not serving"', () => {
    assert.equal(endpoints.catalog, 'local');
    assert.match(endpoints.dns ?? '', /^not serving: /);
    assert.match(endpoints.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.deepEqual(Object.keys(endpoints), ['catalog', 'dns', 'metrics']);
    assert.equal(hooks.length, 1, "the registrar's drain");
  });

  test("/metrics serves the catalog's and the registrar's families, not the DNS server's", async () => {
    const body = await (await fetch(endpoints.metrics ?? '')).text();
    assert.match(body, /^berth_discovery_instances\{health="passing",service="web"\} 1$/m);
    assert.match(body, /^berth_discovery_instances\{health="critical",service="web"\} 0$/m);
    assert.match(body, /^berth_discovery_registrar_registered_total 1$/m);
    assert.match(body, /^berth_metrics_collector_success\{collector="discovery"\} 1$/m);
    assert.match(body, /^berth_metrics_collector_success\{collector="registrar"\} 1$/m);
    assert.doesNotMatch(body, /collector="dns"/);
    assert.doesNotMatch(body, /^berth_dns_/m);
  });
});
