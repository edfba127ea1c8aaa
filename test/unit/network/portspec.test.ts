import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatPort, parsePortSpec, validatePortMappings } from '../../../runtime/network/portspec.js';

describe('parsePortSpec', () => {
  test('hostPort:containerPort publishes on all addresses over tcp', () => {
    assert.deepEqual(parsePortSpec('8080:80'), [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
    ]);
  });

  test('hostIp, udp and a bare container port (free host port)', () => {
    assert.deepEqual(parsePortSpec('127.0.0.1:5353:53/udp'), [
      { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
    ]);
    assert.deepEqual(parsePortSpec('80'), [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [
      { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
    ]);
    assert.deepEqual(parsePortSpec('::80/TCP'), [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
    ]);
  });

  test('ranges map pairwise', () => {
    assert.deepEqual(
      parsePortSpec('9000-9001:80-81').map((p) => [p.hostPort, p.containerPort]),
      [
        [9000, 80],
        [9001, 81],
      ],
    );
  });

  test('bad specs are InvalidArgument errors that quote the spec and say why', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      ['80/sctp', /protocol "sctp"/],
      ['70000:80', /host port "70000"/],
      ['8080:0', /container port "0"/],
      ['1.2.3:80:80', /host address "1\.2\.3"/],
      ['[::1]:80:80', /IPv6/],
      ['1:2:3:4', /too many/],
      ['9000-9002:80-81', /different lengths/],
      ['abc', /container port "abc"/],
    ];
    for (const [spec, why] of cases) {
      assert.throws(
        () => parsePortSpec(spec),
        (err: Error & { code?: string; field?: string }) =>
          err.code === 'InvalidArgument' &&
          err.field === 'ports' &&
          err.message.includes(`"${spec}"`) &&
          why.test(err.message),
        spec,
      );
    }
  });
});

describe('validatePortMappings', () => {
  test('passes good mappings through and keeps unpublished ones', () => {
    const ports = [
      { containerPort: 80, protocol: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 81, protocol: 'tcp' as const, hostIp: '', hostPort: 0 },
      { containerPort: 53, protocol: 'udp' as const, hostIp: '0.0.0.0', hostPort: 8080 },
    ];
    assert.deepEqual(validatePortMappings(ports), ports);
  });

  test('rejects the same host socket twice, naming the entry', () => {
    assert.throws(
      () =>
        validatePortMappings([
          { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 },
          { containerPort: 81, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
        ]),
      (err: Error & { field?: string }) => err.field === 'ports[1]' && /published twice/.test(err.message),
    );
    // Different addresses on the same port are fine.
    assert.equal(
      validatePortMappings([
        { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 },
        { containerPort: 81, protocol: 'tcp', hostIp: '127.0.0.2', hostPort: 8080 },
      ]).length,
      2,
    );
  });

  test('rejects out-of-range ports and bad addresses', () => {
    assert.throws(
      () => validatePortMappings([{ containerPort: 0, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 1 }]),
      /ports\[0\]\.containerPort: 0/,
    );
    assert.throws(
      () => validatePortMappings([{ containerPort: 1, protocol: 'tcp', hostIp: 'localhost', hostPort: 1 }]),
      /ports\[0\]\.hostIp: "localhost"/,
    );
  });

  test('formatPort reads like docker ps', () => {
    assert.equal(
      formatPort({ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }),
      '0.0.0.0:8080->80/tcp',
    );
    assert.equal(formatPort({ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 0 }), '80/tcp');
  });
});
