import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

// cAdvisor's labels for page faults (metrics/prometheus.go, container_memory_failures_total).
const PGFAULT_CONTAINER = { failure_type: 'pgfault', scope: 'container' };
const PGMAJFAULT_CONTAINER = { failure_type: 'pgmajfault', scope: 'container' };
const PGFAULT_HIERARCHY = { failure_type: 'pgfault', scope: 'hierarchy' };
const PGMAJFAULT_HIERARCHY = { failure_type: 'pgmajfault', scope: 'hierarchy' };

export const memoryCollector: Collector = {
  name: 'memory',
  scope: 'container',
  async update(t, emit) {
    const { stats, missing } = await t.reader.memory(t.cgroupPath);
    for (const file of missing) t.skip(file);
    emitDefined(emit, 'container_memory_usage_bytes', stats.usage);
    emitDefined(emit, 'container_memory_working_set_bytes', stats.workingSet);
    emitDefined(emit, 'container_memory_rss', stats.rss);
    emitDefined(emit, 'container_memory_cache', stats.cache);
    emitDefined(emit, 'container_memory_swap', stats.swap);
    emitDefined(emit, 'container_memory_mapped_file', stats.mappedFile);
    emitDefined(emit, 'container_memory_max_usage_bytes', stats.maxUsage);
    emitDefined(emit, 'container_memory_failcnt', stats.failcnt);
    emitDefined(emit, 'container_oom_events_total', stats.oomKills);
    emitDefined(emit, 'container_memory_total_active_file_bytes', stats.activeFile);
    emitDefined(emit, 'container_memory_total_inactive_file_bytes', stats.inactiveFile);
    emitDefined(emit, 'container_memory_failures_total', stats.pgfault, PGFAULT_CONTAINER);
    emitDefined(emit, 'container_memory_failures_total', stats.pgmajfault, PGMAJFAULT_CONTAINER);
    emitDefined(emit, 'container_memory_failures_total', stats.pgfaultHierarchy, PGFAULT_HIERARCHY);
    emitDefined(emit, 'container_memory_failures_total', stats.pgmajfaultHierarchy, PGMAJFAULT_HIERARCHY);
  },
};
