import { join } from 'node:path';
import { readOptionalSync } from './fsread.js';

/** Bounds the cache: a host has few block devices, but never trust that. */
const MAX_CACHED_DEVICES = 1024;

/**
 * `major:minor` → the device node (`/dev/vda`) as cAdvisor labels devices,
 * from `<sys>/dev/block/<major:minor>/uevent`; a device sysfs does not know
 * (an overlay or tmpfs has major 0) keeps `major:minor`. One cache per
 * collector instance; entries never go stale (a dev_t names one device until
 * reboot).
 */
export class DeviceNames {
  private readonly names = new Map<string, string>();

  constructor(private readonly sys: () => string) {}

  get(majMin: string): string {
    const cached = this.names.get(majMin);
    if (cached !== undefined) return cached;
    const uevent = readOptionalSync(join(this.sys(), 'dev/block', majMin, 'uevent'));
    const m = uevent ? /^DEVNAME=(.+)$/m.exec(uevent) : null;
    const name = m?.[1] ? `/dev/${m[1].trim()}` : majMin;
    if (this.names.size >= MAX_CACHED_DEVICES) this.names.clear();
    this.names.set(majMin, name);
    return name;
  }
}

/** Linux dev_t (as stat reports it) → `major:minor`: major in bits 8–19 and 32–43, minor in 0–7 and 12–31. */
export function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}
