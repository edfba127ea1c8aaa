import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerStats } from '../../../sidecar/metrics/stats.js';
import { statsMessage } from '../../../src/api/stats-rates.js';

const sample = (at: number, over: Partial<ContainerStats> = {}): ContainerStats => ({
  id: 'c1',
  name: 'web',
  at,
  cpuSeconds: 10,
  memory: { usage: 100, workingSet: 80, limit: 1000 },
  pids: { current: 3, max: 64 },
  net: { rxBytes: 1000, txBytes: 500 },
  block: { readBytes: 0, writeBytes: 4096 },
  ...over,
});

describe('stats rates', () => {
  it('cores, bytes per second and levels between two readings', () => {
    const m = statsMessage(
      { containers: [sample(0)], missing: [] },
      {
        containers: [
          sample(2000, {
            cpuSeconds: 11.5,
            net: { rxBytes: 3000, txBytes: 500 },
            block: { readBytes: 8192, writeBytes: 4096 },
          }),
        ],
        missing: ['gone'],
      },
      new Date('2026-12-07T10:00:00Z'),
    );
    assert.deepEqual(m, {
      time: '2026-12-07T10:00:00.000Z',
      interval: 2,
      containers: [
        {
          id: 'c1',
          name: 'web',
          cpu: 0.75,
          memory: { usage: 100, workingSet: 80, limit: 1000 },
          net: { rxBytesPerSec: 1000, txBytesPerSec: 0 },
          block: { readBytesPerSec: 4096, writeBytesPerSec: 0 },
          pids: { current: 3, max: 64 },
        },
      ],
      missing: ['gone'],
    });
  });

  it('leaves out a container seen once, counts a reset counter as 0, and no net on the host network', () => {
    const { net: _net, ...hostNet } = sample(1000, { id: 'c2', cpuSeconds: 1 });
    const m = statsMessage(
      { containers: [sample(0), { ...hostNet, at: 0, cpuSeconds: 0 }], missing: [] },
      { containers: [sample(1000, { cpuSeconds: 2 }), hostNet, sample(1000, { id: 'new' })], missing: [] },
    );
    assert.deepEqual(
      m.containers.map((c) => [c.id, c.cpu, c.net === undefined]),
      [
        ['c1', 0, false],
        ['c2', 1, true],
      ],
    );
  });
});
