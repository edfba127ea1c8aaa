import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseExtraHosts,
  parseResolvConf,
  renderHosts,
  renderResolvConf,
} from '../../../runtime/network/hostfiles.js';
import { tokenize } from '../../../runtime/network/iptables.js';

describe('container hosts and resolv.conf', () => {
  test('hosts maps localhost, the hostname to the container address and extra hosts', () => {
    const text = renderHosts({
      hostname: 'web.local',
      address: '10.88.0.5',
      extraHosts: parseExtraHosts(['db:10.0.0.9']),
    });
    const lines = text.trim().split('\n');
    assert.ok(lines.includes('127.0.0.1\tlocalhost'));
    assert.ok(lines.includes('10.88.0.5\tweb.local web'));
    assert.equal(lines.at(-1), '10.0.0.9\tdb');
  });

  test('without an address the hostname resolves to 127.0.1.1', () => {
    assert.match(renderHosts({ hostname: 'solo', extraHosts: [] }), /127\.0\.1\.1\tsolo\n/);
  });

  test('extra hosts must be name:ip', () => {
    assert.throws(
      () => parseExtraHosts(['db']),
      (err: Error & { field?: string }) => err.field === 'extraHosts[0]',
    );
    assert.throws(
      () => parseExtraHosts(['ok:1.2.3.4', 'bad name:1.2.3.4']),
      /extraHosts\[1\]: "bad name:1.2.3.4"/,
    );
    assert.deepEqual(parseExtraHosts(['v6:::1']), [['v6', '::1']]);
  });

  test('resolv.conf keeps the host search and options and points at the given servers', () => {
    const host = parseResolvConf(
      '# c\nnameserver 1.1.1.1\nsearch corp.example svc\noptions ndots:2 timeout:1\n',
    );
    assert.deepEqual(host, {
      nameservers: ['1.1.1.1'],
      search: ['corp.example', 'svc'],
      options: ['ndots:2', 'timeout:1'],
    });
    const text = renderResolvConf({ ...host, nameservers: ['10.88.0.1'] });
    assert.match(text, /^search corp\.example svc$/m);
    assert.match(text, /^nameserver 10\.88\.0\.1$/m);
    assert.doesNotMatch(text, /1\.1\.1\.1/);
    assert.match(text, /^options ndots:2 timeout:1$/m);
  });
});

describe('iptables -S parsing', () => {
  test('splits quoted comments back into one argument', () => {
    assert.deepEqual(tokenize('-A BERTH-DNAT -p tcp -m comment --comment "berth:br0:abc def" -j DNAT'), [
      '-A',
      'BERTH-DNAT',
      '-p',
      'tcp',
      '-m',
      'comment',
      '--comment',
      'berth:br0:abc def',
      '-j',
      'DNAT',
    ]);
  });
});
