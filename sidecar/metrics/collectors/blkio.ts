import { DeviceNames } from '../device-names.js';
import type { Collector, Roots } from '../types.js';

/**
 * Per-device I/O. The `device` label is the device node (`/dev/vda`) as
 * cAdvisor shows it, resolved from `<sys>/dev/block/<major:minor>/uevent`;
 * when sysfs does not know the device it stays `major:minor`.
 */
export function blkioCollector(): Collector {
  let roots: Roots | undefined;
  const names = new DeviceNames(() => roots?.sys ?? '/sys');
  return {
    name: 'blkio',
    scope: 'container',
    async update(t, emit) {
      roots = t.roots;
      const { stats, missing } = await t.reader.blkio(t.cgroupPath);
      for (const file of missing) t.skip(file);
      for (const d of stats) {
        const labels = { device: names.get(d.device) };
        emit('container_fs_reads_bytes_total', labels, d.readBytes);
        emit('container_fs_writes_bytes_total', labels, d.writeBytes);
        emit('container_fs_reads_total', labels, d.reads);
        emit('container_fs_writes_total', labels, d.writes);
      }
    },
  };
}
