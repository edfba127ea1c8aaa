/**
 * The reconciler's figures on /metrics (src/deploy/metrics.ts): counters
 * follow the project.* events exactly as published on the agent's exchange,
 * gauges the projects' status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventExchange } from '../../../runtime/base/events.js';
import { DeployMetrics } from '../../../src/deploy/metrics.js';
import type { ProjectStatus } from '../../../src/deploy/types.js';

const status = (rollout: boolean): ProjectStatus[] => [
  {
    name: 'shop',
    origin: 'api',
    workingDir: '/srv/shop',
    files: ['/srv/shop/compose.yaml'],
    appliedAt: '2026-12-07T00:00:00Z',
    services: [
      {
        name: 'web',
        image: 'web:v2',
        configHash: 'h2',
        desired: 3,
        running: 3,
        healthy: 2,
        replicas: [],
        ...(rollout
          ? {
              rollout: {
                service: 'web',
                kind: 'update' as const,
                phase: 'running' as const,
                oldCount: 2,
                newCount: 1,
                failures: 0,
              },
            }
          : {}),
      },
    ],
  },
];

const sample = (m: DeployMetrics, family: string, labels: Record<string, string>) =>
  m
    .families()
    .find((f) => f.name === family)
    ?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('DeployMetrics', () => {
  test('counts applies, replica actions, scales and ended rollouts from the events', async () => {
    const events = new EventExchange<Record<string, unknown>>();
    let rolling = true;
    const m = new DeployMetrics({
      events: (signal) => events.subscribe({ topics: ['project.*'], signal }),
      list: async () => status(rolling),
    });
    const ac = new AbortController();
    m.start(ac.signal);
    await sleep(10);
    events.publish('project.applied', { project: 'shop' });
    events.publish('project.rejected', { project: 'shop', reason: 'x' });
    events.publish('project.replica.started', { project: 'shop', service: 'web' });
    events.publish('project.replica.started', { project: 'shop', service: 'web' });
    events.publish('project.replica.replaced', { project: 'shop', service: 'web' });
    events.publish('project.scaled', { project: 'shop', service: 'web' });
    events.publish('project.rollout.progress', { project: 'shop', service: 'web', kind: 'update' });
    events.publish('project.rollout.rolled-back', { project: 'shop', service: 'web', kind: 'update' });
    events.publish('container.started', { project: 'shop' });
    await sleep(20);
    assert.equal(sample(m, 'berth_deploy_applies_total', { result: 'applied' }), 1);
    assert.equal(sample(m, 'berth_deploy_applies_total', { result: 'rejected' }), 1);
    assert.equal(sample(m, 'berth_deploy_replica_actions_total', { action: 'started' }), 2);
    assert.equal(sample(m, 'berth_deploy_replica_actions_total', { action: 'replaced' }), 1);
    assert.equal(sample(m, 'berth_deploy_scales_total', { service: 'web' }), 1);
    assert.equal(sample(m, 'berth_deploy_rollouts_total', { result: 'rolled-back', kind: 'update' }), 1);
    // progress is not an end
    assert.equal(m.families().find((f) => f.name === 'berth_deploy_rollouts_total')?.samples.length, 1);
    assert.equal(sample(m, 'berth_deploy_service_replicas', { service: 'web', state: 'desired' }), 3);
    assert.equal(sample(m, 'berth_deploy_service_replicas', { service: 'web', state: 'healthy' }), 2);
    assert.equal(sample(m, 'berth_deploy_rollout_phase', { service: 'web', phase: 'running' }), 1);
    assert.equal(sample(m, 'berth_deploy_rollout_replicas', { revision: 'old' }), 2);
    assert.equal(sample(m, 'berth_deploy_rollout_replicas', { revision: 'new' }), 1);
    rolling = false;
    events.publish('project.rollout.done', { project: 'shop', service: 'web', kind: 'update' });
    await sleep(20);
    assert.equal(sample(m, 'berth_deploy_rollout_phase', { service: 'web', phase: 'idle' }), 1);
    assert.equal(m.families().find((f) => f.name === 'berth_deploy_rollout_replicas')?.samples.length, 0);
    ac.abort();
  });
});
