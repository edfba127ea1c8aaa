import { join } from 'node:path';
import { readOptional } from '../fsread.js';
import type { Collector } from '../types.js';

/** `0-3,6,8-9` → 7 */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    n += b !== undefined && Number.isInteger(b) ? b - a + 1 : 1;
  }
  return n;
}

export const machineCollector: Collector = {
  name: 'machine',
  scope: 'machine',
  async update(t, emit) {
    const onlineFile = 'devices/system/cpu/online';
    const online = await readOptional(join(t.roots.sys, onlineFile));
    if (online === undefined) t.skip(onlineFile);
    else emit('machine_cpu_cores', {}, countCpuList(online));
    const meminfo = await readOptional(join(t.roots.proc, 'meminfo'));
    const m = meminfo ? /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo) : null;
    if (!m?.[1]) t.skip('meminfo');
    else emit('machine_memory_bytes', {}, Number(m[1]) * 1024);
  },
};
