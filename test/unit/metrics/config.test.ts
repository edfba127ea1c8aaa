import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeConfig, validateConfig } from '../../../runtime/base/config.js';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { createCollectors } from '../../../sidecar/metrics/collectors/index.js';
import { METRICS_CONFIG, parseListen, parseRoots } from '../../../sidecar/metrics/config.js';
import { createMetricsSidecar } from '../../../sidecar/metrics/index.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { fixtureContainers, fixtureRoots } from './fixture-source.js';

test('defaults: loopback listener, compose service allow-listed, host roots, all collectors', () => {
  const cfg = validateConfig(METRICS_CONFIG, [], { prefix: 'metrics.' });
  assert.equal(cfg.listen, '127.0.0.1:9338');
  assert.deepEqual(cfg.labelsAllowlist, ['com.docker.compose.service']);
  assert.equal(cfg.labelsOnAllSeries, false);
  assert.deepEqual(parseRoots(String(cfg.roots)), { proc: '/proc', sys: '/sys', cgroup: '/sys/fs/cgroup' });
  assert.equal(createCollectors(cfg.collectors as string[]).length, 9);
});

test('env and typed values are applied; unknown keys are rejected with a hint', () => {
  const cfg = validateConfig(METRICS_CONFIG, [{ labelsOnAllSeries: 'true' }], {
    prefix: 'metrics.',
    env: { BERTH_METRICS_LABELS_ALLOWLIST: 'app, team' },
  });
  assert.deepEqual(cfg.labelsAllowlist, ['app', 'team']);
  assert.equal(cfg.labelsOnAllSeries, true);
  assert.throws(
    () => validateConfig(METRICS_CONFIG, [{ labelAllowlist: [] }], { prefix: 'metrics.' }),
    (err: Error) => isInvalidArgument(err) && err.message.includes('did you mean metrics.labelsAllowlist'),
  );
});

test('listen and roots parse or fail naming the field', () => {
  assert.deepEqual(parseListen('0.0.0.0:9338'), { host: '0.0.0.0', port: 9338 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.throws(() => parseListen('9338'), /metrics\.listen: "9338" is not host:port/);
  assert.throws(() => parseRoots('/proc:/sys'), /metrics\.roots: .* is not proc:sys:cgroup/);
  assert.throws(() => createCollectors(['cpu', 'gpu']), /collectors: unknown collector "gpu"/);
  assert.ok(describeConfig(METRICS_CONFIG, 'metrics.').includes('`metrics.labelsAllowlist`'));
});

test('createMetricsSidecar wires a working server from config values', async () => {
  const r = fixtureRoots('v2');
  const cfg = validateConfig(METRICS_CONFIG, [
    { listen: '127.0.0.1:0', roots: `${r.proc}:${r.sys}:${r.cgroup}` },
  ]);
  const { server } = createMetricsSidecar(cfg, new FakeContainerSource(fixtureContainers()), silentLogger());
  const { port } = await server.start();
  try {
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.ok(body.includes('container_label_com_docker_compose_service="web"'));
    assert.ok(body.includes('container_spec_cpu_shares'));
  } finally {
    await server.stop();
  }
});
