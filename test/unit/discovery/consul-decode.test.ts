import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  healthOfChecks,
  instanceFromHealthEntry,
  ownedFromAgent,
} from '../../../sidecar/discovery/consul-decode.js';

describe('Consul responses → instances', () => {
  test('health is the worst check; node or service maintenance wins', () => {
    const c = (CheckID: string, Status: string) => ({ CheckID, Status });
    assert.equal(healthOfChecks([c('serfHealth', 'passing'), c('service:a', 'passing')], 'a'), 'passing');
    assert.equal(healthOfChecks([c('serfHealth', 'passing'), c('service:a', 'warning')], 'a'), 'warning');
    assert.equal(healthOfChecks([c('serfHealth', 'critical'), c('service:a', 'passing')], 'a'), 'critical');
    assert.equal(
      healthOfChecks([c('service:a', 'passing'), c('_service_maintenance:a', 'critical')], 'a'),
      'maintenance',
    );
    assert.equal(healthOfChecks([c('_node_maintenance', 'critical')], 'a'), 'maintenance');
    assert.equal(healthOfChecks([], 'a'), 'passing');
  });

  test('a health entry: node address fills an empty service address, berth meta is split off', () => {
    const inst = instanceFromHealthEntry({
      Node: { Node: 'host-1', Address: '10.0.0.5', Datacenter: 'dc2' },
      Service: {
        ID: 'web-1',
        Service: 'web',
        Tags: ['v1'],
        Meta: { team: 'core', 'berth-node': 'host-1', 'berth-container-id': 'abc' },
        Address: '',
        Port: 80,
      },
      Checks: [{ CheckID: 'service:web-1', Status: 'warning' }],
    });
    assert.deepEqual(inst, {
      id: 'web-1',
      service: 'web',
      tags: ['v1'],
      meta: { team: 'core' },
      address: '10.0.0.5',
      port: 80,
      node: 'host-1',
      nodeAddress: '10.0.0.5',
      datacenter: 'dc2',
      health: 'warning',
      containerId: 'abc',
    });
    assert.equal(instanceFromHealthEntry({ Node: {}, Service: {} }), undefined);
    assert.equal(instanceFromHealthEntry('junk'), undefined);
  });

  test('owned: only agent services whose berth-node meta is ours', () => {
    const owned = ownedFromAgent(
      {
        a: { ID: 'a', Service: 'web', Tags: [], Meta: { 'berth-node': 'me' }, Address: '10.0.0.2', Port: 1 },
        b: {
          ID: 'b',
          Service: 'web',
          Tags: [],
          Meta: { 'berth-node': 'other' },
          Address: '10.0.0.3',
          Port: 1,
        },
        c: { ID: 'c', Service: 'db', Tags: [], Meta: {}, Address: '10.0.0.4', Port: 1 },
      },
      { 'service:a': { CheckID: 'service:a', ServiceID: 'a', Status: 'critical' } },
      'me',
      '10.0.0.1',
      'dc1',
    );
    assert.deepEqual(
      owned.map((i) => [i.id, i.health]),
      [['a', 'critical']],
    );
  });
});
