import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

export const cpuCollector: Collector = {
  name: 'cpu',
  scope: 'container',
  async update(t, emit) {
    const { stats, missing } = await t.reader.cpu(t.cgroupPath);
    for (const file of missing) t.skip(file);
    // cAdvisor without per-cpu accounting reports the whole as cpu="total".
    emitDefined(emit, 'container_cpu_usage_seconds_total', stats.usageSeconds, { cpu: 'total' });
    emitDefined(emit, 'container_cpu_user_seconds_total', stats.userSeconds);
    emitDefined(emit, 'container_cpu_system_seconds_total', stats.systemSeconds);
    emitDefined(emit, 'container_cpu_cfs_periods_total', stats.nrPeriods);
    emitDefined(emit, 'container_cpu_cfs_throttled_periods_total', stats.nrThrottled);
    emitDefined(emit, 'container_cpu_cfs_throttled_seconds_total', stats.throttledSeconds);
  },
};
