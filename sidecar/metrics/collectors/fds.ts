import { NotFoundError } from '../../../src/common/errors.js';
import { listOptional } from '../fsread.js';
import type { Collector } from '../types.js';

/**
 * Processes from cgroup.procs, open descriptors of the init process (the one
 * berth knows; counting every process's fds would cost a readdir per process).
 */
export const fdsCollector: Collector = {
  name: 'fds',
  scope: 'container',
  async update(t, emit) {
    const procs = await t.reader.procs(t.cgroupPath);
    emit('container_processes', {}, procs.length);
    const pid = t.container.pid;
    if (pid === undefined) return;
    const entries = await listOptional(`${t.roots.proc}/${pid}/fd`);
    if (entries === undefined) throw new NotFoundError(`process ${pid} of ${t.container.name} is gone`);
    emit('container_file_descriptors', {}, entries.length);
  },
};
