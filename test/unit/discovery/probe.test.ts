import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeTiming } from '../../../sidecar/discovery/probe.js';

describe('check timing (Go durations, as Registrator and Consul take them)', () => {
  test('defaults: 10s interval, 10s timeout never longer than the interval, at least 100 ms between runs', () => {
    assert.deepEqual(probeTiming({ kind: 'tcp', address: '127.0.0.1:1', interval: '10s' }), {
      intervalMs: 10_000,
      timeoutMs: 10_000,
    });
    assert.deepEqual(probeTiming({ kind: 'http', url: 'http://x/', interval: '2s', timeout: '1s' }), {
      intervalMs: 2000,
      timeoutMs: 1000,
    });
    assert.deepEqual(probeTiming({ kind: 'http', url: 'http://x/', interval: '1s', timeout: '5s' }), {
      intervalMs: 1000,
      timeoutMs: 1000,
    });
    assert.deepEqual(probeTiming({ kind: 'tcp', address: 'x:1', interval: 'soon' }), {
      intervalMs: 10_000,
      timeoutMs: 10_000,
    });
    assert.equal(probeTiming({ kind: 'tcp', address: 'x:1', interval: '1ms' }).intervalMs, 100);
  });
});
