/** Issue 12, item 10: frontends bind only where the agent config allows (labels come from image authors). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { liveBinds } from '../../../sidecar/haproxy/binds.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { FrontendAllowList } from '../../../sidecar/haproxy/frontend-allow.js';
import { desiredFromView } from '../../../sidecar/haproxy/model.js';

const inst = (service: string, meta: Record<string, string>): ServiceInstance => ({
  id: `h:${service}:80`,
  service,
  tags: [],
  meta,
  address: '10.0.0.5',
  port: 80,
  node: 'h',
  health: 'passing',
});

describe('haproxy frontend allow-list', () => {
  test('default: unprivileged ports on loopback and the bridge gateway', () => {
    const o = resolveHaproxyOptions([{}], { gateway: '10.88.0.1' });
    assert.equal(o.bindAddress, '127.0.0.1');
    const allow = o.frontendAllow;
    for (const [a, p] of [
      ['127.0.0.1', 1024],
      ['127.0.0.2', 65535],
      ['::1', 8080],
      ['10.88.0.1', 8080],
    ] as const) {
      assert.equal(allow.problem(a, p), undefined, `${a}:${p}`);
    }
    for (const [a, p] of [
      ['127.0.0.1', 80],
      ['0.0.0.0', 8080],
      ['::', 8080],
      ['10.88.0.2', 8080],
      ['192.168.1.1', 8080],
    ] as const) {
      assert.match(allow.problem(a, p) ?? '', /is not in the agent's frontend allow-list/, `${a}:${p}`);
    }
    // Without a bridge, `gateway` matches nothing.
    assert.notEqual(new FrontendAllowList(['gateway:1-65535']).problem('10.88.0.1', 80), undefined);
  });

  test('entries: IP, [IPv6], *, single ports and ranges; bad ones name the field', () => {
    const allow = new FrontendAllowList(['*:80', '[::1]:443', '10.0.0.1:8000-8010']);
    assert.equal(allow.problem('0.0.0.0', 80), undefined);
    assert.equal(allow.problem('::1', 443), undefined);
    assert.equal(allow.problem('10.0.0.1', 8005), undefined);
    assert.notEqual(allow.problem('10.0.0.1', 8011), undefined);
    for (const bad of [
      'localhost:80',
      '10.0.0.1',
      '10.0.0.1:0',
      '10.0.0.1:90-80',
      '*:70000',
      '1.2.3.4:80;',
    ]) {
      assert.throws(
        () => resolveHaproxyOptions([{ frontendAllow: [bad] }]),
        (err: unknown) =>
          isInvalidArgument(err) && /^haproxy\.frontendAllow\[0\]: /.test((err as Error).message),
        bad,
      );
    }
    assert.throws(
      () => resolveHaproxyOptions([{ bindAddress: '0.0.0.0;' }]),
      (err: unknown) => isInvalidArgument(err) && /^haproxy\.bindAddress: /.test((err as Error).message),
    );
  });

  test('a service outside the allow-list is left out and reported; the others stay', () => {
    const allow = new FrontendAllowList(['loopback:1024-65535']);
    const d = desiredFromView(
      {
        index: 1,
        stale: false,
        instances: [
          inst('web', { 'berth-lb-port': '8080' }),
          inst('ssh', { 'berth-lb-port': '22' }),
          inst('wide', { 'berth-lb-port': '8081', 'berth-lb-bind': '0.0.0.0' }),
        ],
      },
      '127.0.0.1',
      allow,
    );
    assert.deepEqual([...d.services.keys()], ['web']);
    assert.deepEqual(
      d.problems.map((p) => [p.kind, p.service]),
      [
        ['service', 'ssh'],
        ['service', 'wide'],
      ],
    );
  });

  test('the binds HAProxy holds are read from the live config', () => {
    const live = "frontend 'fe_a'\n  bind '127.0.0.1:8080'\nfrontend fe_b\n  bind [::1]:9090\n  bind :7070\n";
    assert.deepEqual([...liveBinds(live)].sort(), ['0.0.0.0:7070', '127.0.0.1:8080', '[::1]:9090']);
  });
});
