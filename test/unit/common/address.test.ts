import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isLoopbackHost, parseHostPort } from '../../../runtime/base/address.js';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { parseServer } from '../../../sidecar/logs/config.js';
import { parseListen } from '../../../sidecar/metrics/config.js';

/** Asserts an InvalidArgumentError whose field is `field` and whose message matches `re`. */
function rejects(fn: () => unknown, field: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.equal(e.field, field);
    assert.match(e.message, re);
    return true;
  });
}

describe('parseHostPort', () => {
  const f = { field: 'x.addr' };

  test('IPv4, host names and [IPv6] with a port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:80', f), { host: '127.0.0.1', port: 80 });
    assert.deepEqual(parseHostPort('fluentd.example:24224', f), { host: 'fluentd.example', port: 24224 });
    assert.deepEqual(parseHostPort('[::1]:8080', f), { host: '::1', port: 8080 });
    assert.deepEqual(parseHostPort('  [fe80::1]:65535 ', f), { host: 'fe80::1', port: 65535 });
  });

  test('a default port makes the port optional, also after [IPv6]', () => {
    const o = { ...f, defaultPort: 53 };
    assert.deepEqual(parseHostPort('10.0.0.1', o), { host: '10.0.0.1', port: 53 });
    assert.deepEqual(parseHostPort('[::1]', o), { host: '::1', port: 53 });
    assert.deepEqual(parseHostPort('10.0.0.1:5353', o), { host: '10.0.0.1', port: 5353 });
  });

  test('a default host makes ":port" valid', () => {
    assert.deepEqual(parseHostPort(':9338', { ...f, defaultHost: '0.0.0.0' }), {
      host: '0.0.0.0',
      port: 9338,
    });
  });

  test('port 0 only where minPort is 0', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:0', { ...f, minPort: 0 }), { host: '127.0.0.1', port: 0 });
    rejects(() => parseHostPort('127.0.0.1:0', f), 'x.addr', /port 0 is out of range \(1-65535\)/);
  });

  test('errors name the field, the value and the reason', () => {
    rejects(() => parseHostPort('', f), 'x.addr', /^x\.addr: "" is not host:port \(it is empty\)$/);
    rejects(() => parseHostPort('10.0.0.1', f), 'x.addr', /the port is missing/);
    rejects(() => parseHostPort(':80', f), 'x.addr', /the host is missing/);
    rejects(() => parseHostPort('h:', f), 'x.addr', /the port is empty/);
    rejects(() => parseHostPort('h:http', f), 'x.addr', /port "http" is not a number/);
    rejects(() => parseHostPort('h:70000', f), 'x.addr', /port 70000 is out of range \(1-65535\)/);
    rejects(() => parseHostPort('::1', f), 'x.addr', /an IPv6 address needs brackets/);
    rejects(() => parseHostPort('a:b:c', f), 'x.addr', /more than one ':'/);
    rejects(() => parseHostPort('[::1', f), 'x.addr', /'\[' without '\]'/);
    rejects(() => parseHostPort('[]:80', f), 'x.addr', /nothing between \[ and \]/);
    rejects(() => parseHostPort('[::1]80', f), 'x.addr', /unexpected "80" after '\]'/);
  });

  test('form and example appear in the message', () => {
    rejects(
      () => parseHostPort('::1', { field: 'dnsListen[0]', form: 'ip[:port]', example: '127.0.0.1:53' }),
      'dnsListen[0]',
      /^dnsListen\[0\]: "::1" is not ip\[:port\] \(.*; e\.g\. 127\.0\.0\.1:53\)$/,
    );
  });
});

describe('callers keep their forms and fields', () => {
  test('metrics.listen: port required, empty host is 0.0.0.0, port 0 allowed', () => {
    assert.deepEqual(parseListen(':9338'), { host: '0.0.0.0', port: 9338 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    rejects(
      () => parseListen('127.0.0.1'),
      'metrics.listen',
      /^metrics\.listen: "127\.0\.0\.1" is not host:port/,
    );
  });

  test('logs.servers: port defaults to 24224 and must be 1-65535', () => {
    assert.deepEqual(parseServer('fluentd'), { host: 'fluentd', port: 24224 });
    assert.deepEqual(parseServer('[::1]:24225'), { host: '::1', port: 24225 });
    rejects(() => parseServer('fluentd:0'), 'logs.servers', /port 0 is out of range/);
    rejects(() => parseServer(':24224'), 'logs.servers', /the host is missing/);
  });
});

describe('isLoopbackHost (insecure-registry opt-in for loopback, resolvers a container cannot reach)', () => {
  test('loopback in every spelling, with or without a port', () => {
    for (const h of [
      'localhost',
      'localhost:5000',
      '127.0.0.1',
      '127.1.2.3:80',
      '::1',
      '0:0:0:0:0:0:0:1',
      '[::1]:5000',
      '::ffff:127.0.0.1',
    ])
      assert.equal(isLoopbackHost(h), true, h);
  });

  test('everything else, including v6 addresses that end like a port', () => {
    for (const h of [
      '10.0.0.1',
      '192.0.2.53:53',
      '::ffff:1',
      'fe80::1',
      '[2001:db8::1]:443',
      'registry:5000',
      'localhost.example',
    ])
      assert.equal(isLoopbackHost(h), false, h);
  });
});
