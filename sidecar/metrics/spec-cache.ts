import type { ContainerTarget, SpecStats } from './types.js';

/**
 * How long a container's limits are reused before their files are read
 * again. Limits change only when the container is updated, and they are
 * four of the ~19 files read per container per scrape: with 1,000
 * containers that is 4,000 reads saved on most scrapes, at the price of an
 * update showing in container_spec_* up to this long after it happened.
 */
export const SPEC_TTL_MS = 30_000;

export interface SpecEntry {
  at: number;
  stats: SpecStats;
  missing: string[];
}

/**
 * Each container's limits, read at most once per SPEC_TTL_MS and shared by
 * the collectors that need them: `spec` exports them, `cpu` exports the CFS
 * counters only for a container with a quota (as cAdvisor does).
 */
export class SpecCache {
  private readonly cache = new Map<string, SpecEntry>();
  private lastSweep: number;
  private readonly ttl: number;
  private readonly clock: () => number;

  constructor(opts: { ttlMs?: number; now?: () => number } = {}) {
    this.ttl = opts.ttlMs ?? SPEC_TTL_MS;
    this.clock = opts.now ?? (() => performance.now());
    this.lastSweep = this.clock();
  }

  async get(t: ContainerTarget): Promise<SpecEntry> {
    const now = this.clock();
    // Entries of removed containers would otherwise stay forever.
    if (now - this.lastSweep > this.ttl) {
      for (const [k, e] of this.cache) if (now - e.at > this.ttl) this.cache.delete(k);
      this.lastSweep = now;
    }
    // Keyed by path and id: a container recreated under the same cgroup path has new limits.
    const key = `${t.cgroupPath}\0${t.container.id}`;
    let entry = this.cache.get(key);
    if (!entry || now - entry.at > this.ttl) {
      const { stats, missing } = await t.reader.spec(t.cgroupPath);
      entry = { at: now, stats, missing };
      this.cache.set(key, entry);
    }
    return entry;
  }
}
