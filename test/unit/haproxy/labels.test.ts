import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { lbMetaFromLabels, lbSpecFromMeta } from '../../../sidecar/haproxy/labels.js';

describe('haproxy labels', () => {
  test('labels become Consul-safe meta keys and are read back with defaults', () => {
    const meta = lbMetaFromLabels({ 'berth.lb.port': '8080', 'other.label': 'x', SERVICE_NAME: 'web' });
    assert.deepEqual(meta, { 'berth-lb-port': '8080' });
    assert.deepEqual(lbSpecFromMeta('web', meta), {
      name: 'web',
      port: 8080,
      mode: 'http',
      balance: 'roundrobin',
      check: undefined,
      bind: undefined,
    });
  });

  test('every label is honoured', () => {
    const meta = lbMetaFromLabels({
      'berth.lb.port': '9000',
      'berth.lb.mode': 'tcp',
      'berth.lb.balance': 'leastconn',
      'berth.lb.check': 'tcp',
      'berth.lb.service': 'db',
      'berth.lb.bind': '127.0.0.1',
    });
    assert.deepEqual(lbSpecFromMeta('postgres', meta), {
      name: 'db',
      port: 9000,
      mode: 'tcp',
      balance: 'leastconn',
      check: 'tcp',
      bind: '127.0.0.1',
    });
  });

  test('no port label means no frontend', () => {
    assert.equal(lbSpecFromMeta('web', { 'berth-lb-mode': 'http' }), undefined);
  });

  test('bad values are rejected naming the label', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'berth-lb-port': '80a' }, /^berth\.lb\.port: "80a" is not a port/],
      [{ 'berth-lb-port': '70000' }, /^berth\.lb\.port:/],
      [{ 'berth-lb-port': '80', 'berth-lb-mode': 'udp' }, /^berth\.lb\.mode: must be http or tcp/],
      [{ 'berth-lb-port': '80', 'berth-lb-balance': 'fastest' }, /^berth\.lb\.balance: must be one of/],
      [{ 'berth-lb-port': '80', 'berth-lb-check': 'healthz' }, /^berth\.lb\.check: must be an absolute path/],
      [
        { 'berth-lb-port': '80', 'berth-lb-mode': 'tcp', 'berth-lb-check': '/x' },
        /^berth\.lb\.check: in tcp mode/,
      ],
      [{ 'berth-lb-port': '80', 'berth-lb-service': 'bad name' }, /^berth\.lb\.service:/],
    ];
    for (const [meta, re] of cases) {
      assert.throws(
        () => lbSpecFromMeta('web', meta),
        (err: unknown) => isInvalidArgument(err) && re.test((err as Error).message),
      );
    }
  });
});
