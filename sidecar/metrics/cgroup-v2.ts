import { CgroupFiles, limitValue, us } from './base-reader.js';
import { parsePids, workingSet } from './cgroup-v1.js';
import type { CgroupLayout } from './detect.js';
import type { OpenFiles } from './open-files.js';
import type {
  BlkioDeviceStats,
  CgroupReader,
  CpuStats,
  MemoryStats,
  PidsStats,
  SpecStats,
  StatResult,
} from './types.js';

/**
 * cgroup v2: one unified hierarchy, every controller's files in the
 * container's directory. File formats: Documentation/admin-guide/cgroup-v2.rst.
 */
export class CgroupV2Reader implements CgroupReader {
  readonly version = 'v2' as const;
  private readonly root: string | undefined;

  constructor(
    layout: CgroupLayout,
    private readonly files?: OpenFiles,
  ) {
    this.root = layout.unified;
  }

  async cpu(cgroupPath: string): Promise<StatResult<CpuStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const st = f.keyed(this.root, 'cpu.stat');
    return f.finish(
      {
        usageSeconds: us(st?.get('usage_usec')),
        userSeconds: us(st?.get('user_usec')),
        systemSeconds: us(st?.get('system_usec')),
        // nr_periods & co. only appear when the cpu controller is enabled for the cgroup.
        nrPeriods: st?.get('nr_periods'),
        nrThrottled: st?.get('nr_throttled'),
        throttledSeconds: us(st?.get('throttled_usec')),
        nrBursts: st?.get('nr_bursts'),
        burstSeconds: us(st?.get('burst_usec')),
      },
      [this.root],
    );
  }

  async memory(cgroupPath: string): Promise<StatResult<MemoryStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const usage = f.number(this.root, 'memory.current');
    const stat = f.keyed(this.root, 'memory.stat');
    const swap = f.number(this.root, 'memory.swap.current');
    const events = f.keyed(this.root, 'memory.events');
    return f.finish(
      {
        usage,
        workingSet: workingSet(usage, stat?.get('inactive_file')),
        rss: stat?.get('anon'),
        cache: stat?.get('file'),
        swap,
        mappedFile: stat?.get('file_mapped'),
        // v2 has no max_usage_in_bytes; `max` events count the times usage hit the limit, as failcnt did.
        failcnt: events?.get('max'),
        oomKills: events?.get('oom_kill'),
        activeFile: stat?.get('active_file'),
        inactiveFile: stat?.get('inactive_file'),
        // v2's memory.stat is hierarchical only: cAdvisor reports the same counts for both scopes.
        pgfault: stat?.get('pgfault'),
        pgmajfault: stat?.get('pgmajfault'),
        pgfaultHierarchy: stat?.get('pgfault'),
        pgmajfaultHierarchy: stat?.get('pgmajfault'),
      },
      [this.root],
    );
  }

  async blkio(cgroupPath: string): Promise<StatResult<BlkioDeviceStats[]>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const text = f.text(this.root, 'io.stat');
    const out: BlkioDeviceStats[] = [];
    // `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`
    for (const line of (text ?? '').split('\n')) {
      const [device, ...pairs] = line.trim().split(/\s+/);
      if (!device || !/^\d+:\d+$/.test(device)) continue;
      const kv = new Map<string, number>();
      for (const p of pairs) {
        const eq = p.indexOf('=');
        if (eq > 0) kv.set(p.slice(0, eq), Number(p.slice(eq + 1)));
      }
      out.push({
        device,
        readBytes: kv.get('rbytes') ?? 0,
        writeBytes: kv.get('wbytes') ?? 0,
        reads: kv.get('rios') ?? 0,
        writes: kv.get('wios') ?? 0,
      });
    }
    return f.finish(out, [this.root]);
  }

  async pids(cgroupPath: string): Promise<StatResult<PidsStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const current = f.number(this.root, 'pids.current');
    const max = f.number(this.root, 'pids.max');
    return f.finish({ current, max: limitValue(max) }, [this.root]);
  }

  async spec(cgroupPath: string): Promise<StatResult<SpecStats>> {
    // Read once per 30 s (the spec collector caches it): not worth a kept fd.
    const f = new CgroupFiles(cgroupPath);
    const limit = f.number(this.root, 'memory.max');
    const cpuMax = f.text(this.root, 'cpu.max');
    const weight = f.number(this.root, 'cpu.weight');
    // cpu.max: `$MAX $PERIOD`, `max 100000` when unlimited.
    const [quota, period] = (cpuMax ?? '').trim().split(/\s+/);
    const q = quota === undefined || quota === 'max' || quota === '' ? undefined : Number(quota);
    const p = period === undefined || period === '' ? undefined : Number(period);
    return f.finish(
      {
        memoryLimit: limitValue(limit),
        cpuQuota: q !== undefined && Number.isFinite(q) ? q : undefined,
        cpuPeriod: p !== undefined && Number.isFinite(p) ? p : undefined,
        cpuShares: weight === undefined ? undefined : weightToShares(weight),
      },
      [this.root],
    );
  }

  async procs(cgroupPath: string): Promise<number[]> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const text = f.text(this.root, 'cgroup.procs');
    await f.finish([], [this.root]);
    return text === undefined ? [] : parsePids(text);
  }
}

/**
 * cpu.weight [1, 10000] back to v1 shares [2, 262144]: the inverse of runc's
 * shares→weight conversion (`1 + ((shares-2)*9999)/262142`), with cAdvisor's
 * integer arithmetic. The round trip is lossy: shares 1024 → weight 39 → 998,
 * and the v2 default weight 100 reads as 2597 (cAdvisor reports the same).
 */
export function weightToShares(weight: number): number {
  if (weight < 1 || weight > 10000) return 0;
  return 2 + Math.floor(((weight - 1) * 262142) / 9999);
}
