import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../runtime/base/config.js';
import { DNS_CONFIG, DNS_DEFAULTS, dnsServerOptions } from '../../../sidecar/dns/config.js';

test('dns.* defaults are the server defaults the README has always stated', () => {
  assert.deepEqual(dnsServerOptions(DNS_DEFAULTS), {
    upstreamTimeoutMs: 2000,
    ttl: { service: 0, node: 0, container: 0, negative: 0 },
    healthyOnly: true,
    onlyPassing: false,
    rateLimit: { qps: 1000, burst: 2000 },
    maxUdpSize: 4096,
    tcpIdleTimeoutMs: 10_000,
    tcpMaxConnections: 256,
    tcpMaxConnectionsPerClient: 16,
    tcpMaxQueuedBytes: 65_536,
    maxForwardsInFlight: 256,
    answerCacheMaxBytes: 16 * 1024 * 1024,
  });
});

test('dns.* values map to the server options: TTLs in whole seconds, a qps of 0 turns the limit off', () => {
  const v = validateConfig(DNS_CONFIG, [{ serviceTtl: '30s', negativeTtl: '1500ms', rateLimitQps: 0 }], {
    prefix: 'dns.',
  });
  const o = dnsServerOptions(v);
  assert.equal(o.ttl.service, 30);
  assert.equal(o.ttl.negative, 1);
  assert.equal(o.rateLimit, false);
  assert.throws(
    () => validateConfig(DNS_CONFIG, [{ maxUdpSize: 100 }], { prefix: 'dns.' }),
    /dns\.maxUdpSize: must be at least 512, got 100/,
  );
});
