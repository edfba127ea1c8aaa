import { CgroupFiles, limitValue, ns } from './base-reader.js';
import type { CgroupLayout } from './detect.js';
import type {
  BlkioDeviceStats,
  CgroupReader,
  CpuStats,
  MemoryStats,
  PidsStats,
  SpecStats,
  StatResult,
} from './types.js';

/** USER_HZ: cpuacct.stat counts in clock ticks, 100 per second on every Linux ABI. */
const CLOCK_TICKS = 100;

/**
 * cgroup v1 (and hybrid hosts): each controller is its own hierarchy, and the
 * container's path is the same relative path under each controller's mount.
 * File formats: Documentation/admin-guide/cgroup-v1/{memory,cpuacct,blkio-controller,pids}.rst.
 */
export class CgroupV1Reader implements CgroupReader {
  readonly version = 'v1' as const;

  constructor(private readonly layout: CgroupLayout) {}

  private dir(controller: string): string | undefined {
    return this.layout.controllers.get(controller);
  }

  async cpu(cgroupPath: string): Promise<StatResult<CpuStats>> {
    const f = new CgroupFiles(cgroupPath);
    const cpuacct = this.dir('cpuacct');
    const cpu = this.dir('cpu');
    const usage = await f.number(cpuacct, 'cpuacct.usage');
    const acct = await f.keyed(cpuacct, 'cpuacct.stat');
    const st = await f.keyed(cpu, 'cpu.stat');
    const user = acct?.get('user');
    const system = acct?.get('system');
    return f.finish(
      {
        usageSeconds: ns(usage),
        userSeconds: user === undefined ? undefined : user / CLOCK_TICKS,
        systemSeconds: system === undefined ? undefined : system / CLOCK_TICKS,
        nrPeriods: st?.get('nr_periods'),
        nrThrottled: st?.get('nr_throttled'),
        throttledSeconds: ns(st?.get('throttled_time')),
      },
      [cpuacct, cpu],
    );
  }

  async memory(cgroupPath: string): Promise<StatResult<MemoryStats>> {
    const f = new CgroupFiles(cgroupPath);
    const mem = this.dir('memory');
    const usage = await f.number(mem, 'memory.usage_in_bytes');
    const maxUsage = await f.number(mem, 'memory.max_usage_in_bytes');
    const failcnt = await f.number(mem, 'memory.failcnt');
    const stat = await f.keyed(mem, 'memory.stat');
    const oom = await f.keyed(mem, 'memory.oom_control');
    // With use_hierarchy (the default since 5.x) the total_* keys include children, as cAdvisor reads them.
    const pick = (key: string): number | undefined => stat?.get(`total_${key}`) ?? stat?.get(key);
    const inactiveFile = pick('inactive_file');
    return f.finish(
      {
        usage,
        workingSet: workingSet(usage, inactiveFile),
        rss: pick('rss'),
        cache: pick('cache'),
        swap: pick('swap'),
        mappedFile: pick('mapped_file'),
        maxUsage,
        failcnt,
        oomKills: oom?.get('oom_kill'),
      },
      [mem],
    );
  }

  async blkio(cgroupPath: string): Promise<StatResult<BlkioDeviceStats[]>> {
    const f = new CgroupFiles(cgroupPath);
    const blkio = this.dir('blkio');
    const bytes = await f.text(blkio, 'blkio.throttle.io_service_bytes');
    const ops = await f.text(blkio, 'blkio.throttle.io_serviced');
    const devices = new Map<string, BlkioDeviceStats>();
    const get = (device: string): BlkioDeviceStats => {
      let d = devices.get(device);
      if (!d) {
        d = { device, readBytes: 0, writeBytes: 0, reads: 0, writes: 0 };
        devices.set(device, d);
      }
      return d;
    };
    // Lines: `8:0 Read 4096` … `8:0 Total 8192`, and a final `Total 8192`.
    const parse = (text: string | undefined, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
      for (const line of (text ?? '').split('\n')) {
        const [device, op, value] = line.trim().split(/\s+/);
        if (!device || !/^\d+:\d+$/.test(device) || value === undefined) continue;
        const v = Number(value);
        if (!Number.isFinite(v)) continue;
        if (op === 'Read') get(device)[read] += v;
        else if (op === 'Write') get(device)[write] += v;
      }
    };
    parse(bytes, 'readBytes', 'writeBytes');
    parse(ops, 'reads', 'writes');
    return f.finish([...devices.values()], [blkio]);
  }

  async pids(cgroupPath: string): Promise<StatResult<PidsStats>> {
    const f = new CgroupFiles(cgroupPath);
    const pids = this.dir('pids');
    const current = await f.number(pids, 'pids.current');
    const max = await f.number(pids, 'pids.max');
    return f.finish({ current, max: limitValue(max) }, [pids]);
  }

  async spec(cgroupPath: string): Promise<StatResult<SpecStats>> {
    const f = new CgroupFiles(cgroupPath);
    const mem = this.dir('memory');
    const cpu = this.dir('cpu');
    const limit = await f.number(mem, 'memory.limit_in_bytes');
    const quota = await f.number(cpu, 'cpu.cfs_quota_us');
    const period = await f.number(cpu, 'cpu.cfs_period_us');
    const shares = await f.number(cpu, 'cpu.shares');
    return f.finish(
      {
        memoryLimit: limitValue(limit),
        // -1 means no quota; cAdvisor then omits the series.
        cpuQuota: quota === undefined || quota < 0 ? undefined : quota,
        cpuPeriod: period,
        cpuShares: shares,
      },
      [mem, cpu],
    );
  }

  async procs(cgroupPath: string): Promise<number[]> {
    // Every controller lists the same processes; pids is the natural one when mounted.
    const dirs = ['pids', 'cpu', 'memory', 'cpuacct'].map((c) => this.dir(c));
    const f = new CgroupFiles(cgroupPath);
    for (const dir of dirs) {
      const text = await f.text(dir, 'cgroup.procs');
      if (text !== undefined) return parsePids(text);
    }
    await f.finish([], dirs); // throws NotFoundError when the cgroup is gone everywhere
    return [];
  }
}

/** cAdvisor: usage minus inactive file pages, floored at 0 (page cache can be reclaimed). */
export function workingSet(usage: number | undefined, inactiveFile: number | undefined): number | undefined {
  if (usage === undefined) return undefined;
  if (inactiveFile === undefined) return usage;
  return usage < inactiveFile ? 0 : usage - inactiveFile;
}

export function parsePids(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const n = Number(line.trim());
    if (line.trim() !== '' && Number.isInteger(n)) out.push(n);
  }
  return out;
}
