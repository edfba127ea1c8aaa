import type { HealthStatus } from '../../../runtime/types.js';
import { SpecCache } from '../spec-cache.js';
import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

export { SPEC_TTL_MS } from '../spec-cache.js';

/**
 * cAdvisor's container_health_state (metrics/prometheus.go getContainerHealthState):
 * 1 healthy, -1 no health check, 0 starting or unhealthy.
 */
const HEALTH_STATE: Readonly<Record<HealthStatus, number>> = {
  healthy: 1,
  none: -1,
  starting: 0,
  unhealthy: 0,
};

/** Container creation and start time, health, last seen, last seen, restarts (every scrape) and limits (cached, see SPEC_TTL_MS). */
export function specCollector(
  opts: { ttlMs?: number; now?: () => number; cache?: SpecCache } = {},
): Collector {
  const cache = opts.cache ?? new SpecCache(opts);
  return {
    name: 'spec',
    scope: 'container',
    async update(t, emit) {
      const started = t.container.startedAt ? Date.parse(t.container.startedAt) : Number.NaN;
      if (Number.isFinite(started)) emit('container_start_time_seconds', {}, started / 1000);
      const created = Date.parse(t.container.createdAt);
      if (Number.isFinite(created)) emit('container_creation_time_seconds', {}, created / 1000);
      emit('container_health_state', {}, HEALTH_STATE[t.container.health]);
      emit('container_last_seen', {}, t.now);
      emit('berth_container_restarts', {}, t.container.restartCount);
      const entry = await cache.get(t);
      for (const file of entry.missing) t.skip(file);
      const s = entry.stats;
      emitDefined(emit, 'container_spec_memory_limit_bytes', s.memoryLimit);
      emitDefined(emit, 'container_spec_cpu_quota', s.cpuQuota);
      emitDefined(emit, 'container_spec_cpu_period', s.cpuPeriod);
      emitDefined(emit, 'container_spec_cpu_shares', s.cpuShares);
    },
  };
}
