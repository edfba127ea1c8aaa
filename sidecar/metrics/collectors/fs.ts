import { statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceNames, majorMinor } from '../device-names.js';
import { isMissing, readOptionalSync } from '../fsread.js';
import { LayerUsage, writableLayerDir } from '../layer-usage.js';
import type { Collector, Roots } from '../types.js';

interface Layer {
  /** The upper directory as this process reaches it; undefined when the root is no overlay. */
  path?: string;
  /** `major:minor` of the filesystem holding it. */
  dev?: string;
  asked: number;
}

interface DeviceFigures {
  at: number;
  limit: number;
  inodes: number;
  inodesFree: number;
}

/** Seconds a container's layer location is kept without being asked for. */
const LAYER_KEEP_S = 300;

/**
 * The container's writable layer (the overlay upper directory of its root
 * mount) and the filesystem under it, labelled `device` as cAdvisor labels
 * filesystems:
 * - `container_fs_usage_bytes`: the layer's size as cAdvisor's Docker
 *   handler measures the read-write layer (du: st_blocks × 512, hard links
 *   once), refreshed in the background every FS_REFRESH_MS (layer-usage.ts);
 *   absent until the first walk ends;
 * - `container_fs_limit_bytes`: the filesystem's size (statfs blocks × bsize);
 * - `container_fs_inodes_total` / `container_fs_inodes_free`: the
 *   filesystem's inodes and free inodes, as cAdvisor's raw handler reports
 *   them for a filesystem (its Docker handler puts the layer's inode count
 *   in inodes_total and leaves free at 0; see the README).
 * The layer is found from `<proc>/<pid>/mountinfo` of the container's init,
 * so any engine's overlay containers work (berth's, Docker's overlay2,
 * containerd's). The upper directory is a path of the host's mount namespace:
 * under other roots (a DaemonSet's /host/proc) it is reached through the host
 * init's root, `<proc>/1/root/<path>`. statfs runs once per device per scrape.
 */
export function fsCollector(opts: { usage?: LayerUsage } = {}): Collector {
  const usage = opts.usage ?? new LayerUsage();
  let roots: Roots | undefined;
  const names = new DeviceNames(() => roots?.sys ?? '/sys');
  const layers = new Map<string, Layer>();
  const devices = new Map<string, DeviceFigures>();
  let lastSweep = 0;

  const locate = (proc: string, pid: number, now: number): Layer => {
    const layer: Layer = { asked: now };
    const dir = writableLayerDir(readOptionalSync(`${proc}/${pid}/mountinfo`) ?? '');
    if (dir === undefined) return layer;
    const path = proc === '/proc' ? dir : join(proc, '1/root', dir);
    try {
      layer.dev = majorMinor(statSync(path, { bigint: true }).dev);
      layer.path = path;
    } catch (err) {
      // EACCES/EPERM: the host's init root is not ours to follow (a pod without CAP_SYS_PTRACE):
      // no fs series for it, remembered like a missing layer rather than failing every scrape.
      const code = (err as NodeJS.ErrnoException).code;
      if (!isMissing(err) && code !== 'EACCES' && code !== 'EPERM') throw err;
    }
    return layer;
  };

  return {
    name: 'fs',
    scope: 'container',
    async update(t, emit) {
      roots = t.roots;
      const pid = t.container.pid;
      if (pid === undefined) return;
      if (t.now - lastSweep > LAYER_KEEP_S) {
        for (const [k, l] of layers) if (t.now - l.asked > LAYER_KEEP_S) layers.delete(k);
        for (const [k, d] of devices) if (t.now - d.at > LAYER_KEEP_S) devices.delete(k);
        lastSweep = t.now;
      }
      // Keyed by id and pid: a restarted container has a new init (and maybe a new layer).
      const key = `${t.container.id}\0${pid}`;
      let layer = layers.get(key);
      if (layer === undefined) {
        layer = locate(t.roots.proc, pid, t.now);
        layers.set(key, layer);
      }
      layer.asked = t.now;
      if (layer.path === undefined || layer.dev === undefined) return;
      let dev = devices.get(layer.dev);
      if (dev === undefined || dev.at !== t.now) {
        try {
          const s = statfsSync(layer.path);
          dev = { at: t.now, limit: s.blocks * s.bsize, inodes: s.files, inodesFree: s.ffree };
          devices.set(layer.dev, dev);
        } catch (err) {
          // The layer went with its container: forget it, the next scrape looks again.
          if (!isMissing(err)) throw err;
          layers.delete(key);
          return;
        }
      }
      const labels = { device: names.get(layer.dev) };
      const figures = usage.get(layer.path);
      if (figures !== undefined) emit('container_fs_usage_bytes', labels, figures.bytes);
      emit('container_fs_limit_bytes', labels, dev.limit);
      emit('container_fs_inodes_total', labels, dev.inodes);
      emit('container_fs_inodes_free', labels, dev.inodesFree);
    },
  };
}
