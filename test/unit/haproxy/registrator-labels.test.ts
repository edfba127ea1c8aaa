import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serviceInstancesFor } from '../../../sidecar/discovery/registrator.js';
import { lbMetaFromLabels, lbSpecFromMeta } from '../../../sidecar/haproxy/labels.js';
import { desiredFromView } from '../../../sidecar/haproxy/model.js';
import { descriptor } from '../discovery/registrar-fixtures.js';

/** The container labels reach the LB through discovery's instance meta: registrator output → LB spec. */
describe('haproxy labels through the registrator', () => {
  test('berth.lb.* labels on a container become the frontend of its service', () => {
    const labels = {
      SERVICE_NAME: 'shop',
      'berth.lb.port': '8080',
      'berth.lb.balance': 'leastconn',
      'berth.lb.check': '/healthz',
    };
    const c = descriptor({
      labels,
      ports: [{ containerPort: 80, hostPort: 32768, protocol: 'tcp', hostIp: '0.0.0.0' }],
    });
    const [inst] = serviceInstancesFor(c, { nodeName: 'h1', hostIp: '192.0.2.10' });
    assert.ok(inst !== undefined);
    assert.deepEqual(lbSpecFromMeta(inst.service, inst.meta), {
      name: 'shop',
      port: 8080,
      mode: 'http',
      balance: 'leastconn',
      check: '/healthz',
      bind: undefined,
    });
    // lbMetaFromLabels writes the same keys the registrator does.
    for (const [k, v] of Object.entries(lbMetaFromLabels(labels))) assert.equal(inst.meta[k], v);
    const desired = desiredFromView({ index: 1, instances: [inst], stale: false }, '0.0.0.0');
    assert.deepEqual(desired.services.get('shop')?.servers, [
      {
        instanceId: inst.id,
        address: '192.0.2.10',
        port: 32768,
        state: 'ready',
        containerId: c.id,
        node: 'h1',
        service: 'shop',
      },
    ]);
  });
});
