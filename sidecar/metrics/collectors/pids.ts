import type { Collector } from '../types.js';
import { emitDefined } from './emit.js';

/** cAdvisor names the pids controller's numbers "threads": pids.current counts tasks, not processes. */
export const pidsCollector: Collector = {
  name: 'pids',
  scope: 'container',
  async update(t, emit) {
    const { stats, missing } = await t.reader.pids(t.cgroupPath);
    for (const file of missing) t.skip(file);
    emitDefined(emit, 'container_threads', stats.current);
    emitDefined(emit, 'container_threads_max', stats.max);
  },
};
