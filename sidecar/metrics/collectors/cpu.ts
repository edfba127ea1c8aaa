import { SpecCache } from '../spec-cache.js';
import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

/**
 * CPU time and CFS counters. The CFS families only for a container with a
 * quota, as cAdvisor exports them (`condition: Cpu.Quota != 0`,
 * metrics/prometheus.go): without one they are all zero. The quota comes
 * from the limits cache the spec collector shares.
 */
export function cpuCollector(opts: { cache?: SpecCache } = {}): Collector {
  const cache = opts.cache ?? new SpecCache();
  return {
    name: 'cpu',
    scope: 'container',
    async update(t, emit) {
      const { stats, missing } = await t.reader.cpu(t.cgroupPath);
      for (const file of missing) t.skip(file);
      // cAdvisor without per-cpu accounting reports the whole as cpu="total".
      emitDefined(emit, 'container_cpu_usage_seconds_total', stats.usageSeconds, { cpu: 'total' });
      emitDefined(emit, 'container_cpu_user_seconds_total', stats.userSeconds);
      emitDefined(emit, 'container_cpu_system_seconds_total', stats.systemSeconds);
      if ((await cache.get(t)).stats.cpuQuota === undefined) return;
      emitDefined(emit, 'container_cpu_cfs_periods_total', stats.nrPeriods);
      emitDefined(emit, 'container_cpu_cfs_throttled_periods_total', stats.nrThrottled);
      emitDefined(emit, 'container_cpu_cfs_throttled_seconds_total', stats.throttledSeconds);
      emitDefined(emit, 'container_cpu_cfs_burst_periods_total', stats.nrBursts);
      emitDefined(emit, 'container_cpu_cfs_burst_seconds_total', stats.burstSeconds);
    },
  };
}
