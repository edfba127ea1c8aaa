import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorCode } from '../../../runtime/base/errors.js';
import { bridgeNameFor, checkLabels, checkNetworkName } from '../../../runtime/network/net-names.js';
import { explicitSubnet, hostSubnets, pickSubnet } from '../../../runtime/network/pool.js';

const def = { cidr: '10.88.0.0/16', by: 'the default network (bridge)' };

describe('subnet pool', () => {
  test('picks the first /24 of the pool that overlaps nothing', () => {
    assert.equal(pickSubnet('10.89.0.0/16', 24, [def]).cidr, '10.89.0.0/24');
    const taken = [def, { cidr: '10.89.0.0/24', by: 'network a' }, { cidr: '10.89.1.128/25', by: 'x' }];
    const s = pickSubnet('10.89.0.0/16', 24, taken);
    assert.equal(s.cidr, '10.89.2.0/24');
    assert.equal(s.gateway, '10.89.2.1');
    // A wider host route over part of the pool pushes the pick past it.
    assert.equal(pickSubnet('10.89.0.0/16', 24, [{ cidr: '10.89.0.0/20', by: 'vpn' }]).cidr, '10.89.16.0/24');
  });

  test('a full pool is a FailedPrecondition naming it; a bad pool or prefix names its option', () => {
    const full = Array.from({ length: 4 }, (_, i) => ({ cidr: `10.90.${i}.0/24`, by: `n${i}` }));
    assert.throws(
      () => pickSubnet('10.90.0.0/22', 24, full),
      (e: Error) => {
        assert.equal(errorCode(e), 'FailedPrecondition');
        assert.match(e.message, /10\.90\.0\.0\/22/);
        return true;
      },
    );
    assert.throws(() => pickSubnet('10.90.0.0/22', 20, []), /networkPoolPrefix/);
    assert.throws(() => pickSubnet('10.90.0.1/22', 24, []), /networkPool.*host bits/);
  });

  test('an explicit subnet is refused when it overlaps, naming what; the gateway must be a host address in it', () => {
    assert.throws(
      () => explicitSubnet('10.88.5.0/24', undefined, [def]),
      /overlaps 10\.88\.0\.0\/16 of the default network/,
    );
    assert.equal(explicitSubnet('192.168.77.0/24', undefined, [def]).gateway, '192.168.77.1');
    assert.equal(explicitSubnet('192.168.77.0/24', '192.168.77.254', [def]).gateway, '192.168.77.254');
    for (const g of ['192.168.77.0', '192.168.77.255', '192.168.78.1', 'x'])
      assert.throws(
        () => explicitSubnet('192.168.77.0/24', g, []),
        (e: Error & { field?: string }) => {
          assert.equal(e.field, 'gateway');
          return true;
        },
      );
    assert.throws(() => explicitSubnet('192.168.77.0/33', undefined, []), /subnet/);
  });

  test('host subnets come from `ip addr` and `ip route` output', () => {
    const addr =
      '2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0\n1: lo    inet 127.0.0.1/8 scope host lo\n';
    const route =
      'default via 192.168.1.1 dev eth0\n172.20.0.0/16 via 192.168.1.2 dev eth0\n10.1.2.3 dev tun0\n';
    assert.deepEqual(
      hostSubnets(addr, route).map((t) => t.cidr),
      ['192.168.1.0/24', '127.0.0.0/8', '172.20.0.0/16'],
    );
  });
});

describe('network names', () => {
  test('accepts Docker-like names; refuses reserved, malformed and hostile ones naming the field', () => {
    for (const n of ['a', 'myproj_default', 'front.end-1', 'A'.repeat(64)])
      assert.equal(checkNetworkName(n), n);
    for (const n of ['bridge', 'host', 'none', 'default'])
      assert.throws(() => checkNetworkName(n), /reserved/);
    for (const n of ['', '_x', '-x', 'a/b', '../x', 'a b', 'a\nb', 'A'.repeat(65), 'é'])
      assert.throws(
        () => checkNetworkName(n),
        (e: Error & { field?: string }) => {
          assert.equal(e.field, 'name');
          return true;
        },
      );
    assert.throws(() => checkNetworkName(42), /required/);
  });

  test('labels: keys and values checked; bridge names are bn- plus 12 hex, ≤ 15 characters', () => {
    assert.deepEqual(checkLabels({ 'com.docker.compose.network': 'default' }), {
      'com.docker.compose.network': 'default',
    });
    assert.throws(() => checkLabels({ 'a b': 'x' }), /labels/);
    assert.throws(() => checkLabels({ a: 'x\0' }), /labels\.a/);
    assert.throws(() => checkLabels(['x']), /labels/);
    const b = bridgeNameFor('f'.repeat(64));
    assert.match(b, /^bn-[0-9a-f]{12}$/);
    assert.ok(b.length <= 15);
    assert.notEqual(bridgeNameFor('f'.repeat(64), 1), b);
  });
});
