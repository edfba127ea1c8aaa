import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

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
  },
};
