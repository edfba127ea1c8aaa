import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

export const specCollector: Collector = {
  name: 'spec',
  scope: 'container',
  async update(t, emit) {
    const started = t.container.startedAt ? Date.parse(t.container.startedAt) : Number.NaN;
    if (Number.isFinite(started)) emit('container_start_time_seconds', {}, started / 1000);
    emit('container_last_seen', {}, t.now);
    const { stats, missing } = await t.reader.spec(t.cgroupPath);
    for (const file of missing) t.skip(file);
    emitDefined(emit, 'container_spec_memory_limit_bytes', stats.memoryLimit);
    emitDefined(emit, 'container_spec_cpu_quota', stats.cpuQuota);
    emitDefined(emit, 'container_spec_cpu_period', stats.cpuPeriod);
    emitDefined(emit, 'container_spec_cpu_shares', stats.cpuShares);
  },
};
