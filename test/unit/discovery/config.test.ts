import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../runtime/base/config.js';
import {
  CONSUL_CONFIG,
  CONSUL_DEFAULTS,
  consulClientOptions,
  consulDuration,
  DISCOVERY_DEFAULTS,
  registrarOptions,
} from '../../../sidecar/discovery/config.js';

test('discovery.* and consulClient.* defaults are the Registrar and ConsulCatalog defaults the README states', () => {
  assert.deepEqual(registrarOptions(DISCOVERY_DEFAULTS), {
    drainMs: 2000,
    reconcileIntervalMs: 0,
    reconcileRetryMs: 1000,
    reconcileRetryMaxMs: 30_000,
    eventBuffer: 10_000,
  });
  assert.deepEqual(consulClientOptions(CONSUL_DEFAULTS), {
    checkTtl: '30s',
    heartbeatMs: 10_000,
    wait: '30s',
    requestTimeoutMs: 3000,
    backoffMinMs: 250,
    backoffMaxMs: 30_000,
    resyncIntervalMs: 30_000,
  });
});

test('consulClient durations reach Consul in its own notation', () => {
  assert.equal(consulDuration(60_000), '60s');
  assert.equal(consulDuration(1500), '1500ms');
  const v = validateConfig(CONSUL_CONFIG, [{ checkTtl: '1m30s', wait: '5m' }], { prefix: 'consulClient.' });
  assert.equal(consulClientOptions(v).checkTtl, '90s');
  assert.equal(consulClientOptions(v).wait, '300s');
  assert.throws(
    () => validateConfig(CONSUL_CONFIG, [{ checkTtl: '10ms' }], { prefix: 'consulClient.' }),
    /consulClient\.checkTtl: must be at least 1000/,
  );
});
