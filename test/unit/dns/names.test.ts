import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { nameserversOf, parseUpstream } from '../../../sidecar/dns/forwarder.js';
import { classify, hexOfAddress, labelsUnder } from '../../../sidecar/dns/names.js';
import { ClientRateLimiter } from '../../../sidecar/dns/ratelimit.js';

describe('DNS names', () => {
  test('Consul name shapes', () => {
    const c = (n: string) => classify(labelsUnder(n, 'consul') ?? [], true);
    assert.deepEqual(c('web.service.consul'), { kind: 'service', service: 'web', rfc2782: false });
    assert.deepEqual(c('v1.web.service.dc2.consul'), {
      kind: 'service',
      service: 'web',
      tag: 'v1',
      rfc2782: false,
      dc: 'dc2',
    });
    assert.deepEqual(c('_web._http.service.consul'), {
      kind: 'service',
      service: 'web',
      tag: 'http',
      rfc2782: true,
    });
    assert.deepEqual(c('_web._udp.service.consul'), { kind: 'service', service: 'web', rfc2782: true });
    assert.deepEqual(c('host-1.node.consul'), { kind: 'node', node: 'host-1' });
    assert.deepEqual(c('0a000001.addr.dc1.consul'), { kind: 'addr', address: '10.0.0.1', dc: 'dc1' });
    assert.deepEqual(c('box.consul'), { kind: 'container', name: 'box' });
    assert.deepEqual(c('a.b.c.service.consul'), { kind: 'unknown' });
    assert.deepEqual(c('consul'), { kind: 'apex' });
    assert.equal(labelsUnder('example.com', 'consul'), undefined);
    assert.equal(labelsUnder('notconsul', 'consul'), undefined);
  });

  test('address hex names round-trip for IPv4 and IPv6', () => {
    assert.equal(hexOfAddress('127.0.0.1'), '7f000001');
    assert.equal(hexOfAddress('fd00::5'), 'fd000000000000000000000000000005');
    const v6 = classify(['fd000000000000000000000000000005', 'addr'], false);
    assert.deepEqual(v6, { kind: 'addr', address: 'fd00::5' });
  });

  test('upstreams and resolv.conf', () => {
    assert.deepEqual(parseUpstream('1.1.1.1'), { address: '1.1.1.1', port: 53 });
    assert.deepEqual(parseUpstream('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseUpstream('[::1]:54'), { address: '::1', port: 54 });
    assert.deepEqual(parseUpstream('::1'), { address: '::1', port: 53 });
    assert.throws(
      () => parseUpstream('dns.google'),
      (e) => isInvalidArgument(e),
    );
    assert.deepEqual(
      nameserversOf('# c\nsearch x\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n nameserver ::1\n'),
      ['10.0.0.2', '::1'],
    );
  });

  test('token bucket: burst, refill, bounded client table', () => {
    let now = 0;
    const rl = new ClientRateLimiter(10, 3, 2, () => now);
    assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
    now += 100; // one token back at 10/s
    assert.equal(rl.take('a'), true);
    assert.equal(rl.take('a'), false);
    rl.take('b');
    rl.take('c');
    assert.equal(rl.clients, 2, 'the least recently seen client is forgotten');
  });
});
