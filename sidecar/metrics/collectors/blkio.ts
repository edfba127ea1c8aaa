import { join } from 'node:path';
import { readOptional } from '../fsread.js';
import type { Collector, Roots } from '../types.js';

/** Bounds the device-name cache: a host has few block devices, but never trust that. */
const MAX_CACHED_DEVICES = 1024;

/**
 * Per-device I/O. The `device` label is the device node (`/dev/vda`) as
 * cAdvisor shows it, resolved from `<sys>/dev/block/<major:minor>/uevent`;
 * when sysfs does not know the device it stays `major:minor`.
 */
export function blkioCollector(): Collector {
  const names = new Map<string, string>();
  const deviceName = async (roots: Roots, majMin: string): Promise<string> => {
    const cached = names.get(majMin);
    if (cached !== undefined) return cached;
    const uevent = await readOptional(join(roots.sys, 'dev/block', majMin, 'uevent'));
    const m = uevent ? /^DEVNAME=(.+)$/m.exec(uevent) : null;
    const name = m?.[1] ? `/dev/${m[1].trim()}` : majMin;
    if (names.size >= MAX_CACHED_DEVICES) names.clear();
    names.set(majMin, name);
    return name;
  };
  return {
    name: 'blkio',
    scope: 'container',
    async update(t, emit) {
      const { stats, missing } = await t.reader.blkio(t.cgroupPath);
      for (const file of missing) t.skip(file);
      for (const d of stats) {
        const labels = { device: await deviceName(t.roots, d.device) };
        emit('container_fs_reads_bytes_total', labels, d.readBytes);
        emit('container_fs_writes_bytes_total', labels, d.writeBytes);
        emit('container_fs_reads_total', labels, d.reads);
        emit('container_fs_writes_total', labels, d.writes);
      }
    },
  };
}
