import { CgroupFiles, limitValue, ns } from './base-reader.js';
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

const DEVICE = /^\d+:\d+$/;

/** USER_HZ: cpuacct.stat counts in clock ticks, 100 per second on every Linux ABI. */
const CLOCK_TICKS = 100;

/**
 * cgroup v1 (and hybrid hosts): each controller is its own hierarchy, and the
 * container's path is the same relative path under each controller's mount.
 * File formats: Documentation/admin-guide/cgroup-v1/{memory,cpuacct,blkio-controller,pids}.rst.
 */
export class CgroupV1Reader implements CgroupReader {
  readonly version = 'v1' as const;

  constructor(
    private readonly layout: CgroupLayout,
    private readonly files?: OpenFiles,
  ) {}

  private dir(controller: string): string | undefined {
    return this.layout.controllers.get(controller);
  }

  async cpu(cgroupPath: string): Promise<StatResult<CpuStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const cpuacct = this.dir('cpuacct');
    const cpu = this.dir('cpu');
    const usage = f.number(cpuacct, 'cpuacct.usage');
    const acct = f.keyed(cpuacct, 'cpuacct.stat');
    const st = f.keyed(cpu, 'cpu.stat');
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
        nrBursts: st?.get('nr_bursts'),
        burstSeconds: ns(st?.get('burst_time')),
      },
      [cpuacct, cpu],
    );
  }

  async memory(cgroupPath: string): Promise<StatResult<MemoryStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const mem = this.dir('memory');
    const usage = f.number(mem, 'memory.usage_in_bytes');
    const maxUsage = f.number(mem, 'memory.max_usage_in_bytes');
    const failcnt = f.number(mem, 'memory.failcnt');
    const stat = f.keyed(mem, 'memory.stat');
    const oom = f.keyed(mem, 'memory.oom_control');
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
        activeFile: pick('active_file'),
        inactiveFile,
        pgfault: stat?.get('pgfault'),
        pgmajfault: stat?.get('pgmajfault'),
        pgfaultHierarchy: stat?.get('total_pgfault'),
        pgmajfaultHierarchy: stat?.get('total_pgmajfault'),
      },
      [mem],
    );
  }

  async blkio(cgroupPath: string): Promise<StatResult<BlkioDeviceStats[]>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const blkio = this.dir('blkio');
    const bytes = f.text(blkio, 'blkio.throttle.io_service_bytes');
    const ops = f.text(blkio, 'blkio.throttle.io_serviced');
    const devices = new Map<string, BlkioDeviceStats>();
    const get = (device: string): BlkioDeviceStats => {
      let d = devices.get(device);
      if (!d) {
        d = { device, readBytes: 0, writeBytes: 0, reads: 0, writes: 0 };
        devices.set(device, d);
      }
      return d;
    };
    // Lines: `8:0 Read 4096` … `8:0 Total 8192`, and a final `Total 8192` (the kernel's
    // "%s %s %llu" format: single spaces). Only Read and Write lines are used.
    const parse = (text: string | undefined, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
      if (text === undefined) return;
      const len = text.length;
      for (let start = 0; start < len; ) {
        let end = text.indexOf('\n', start);
        if (end < 0) end = len;
        const s1 = text.indexOf(' ', start);
        const s2 = s1 < 0 || s1 >= end ? -1 : text.indexOf(' ', s1 + 1);
        if (s2 > 0 && s2 < end) {
          const op = text.slice(s1 + 1, s2);
          if (op === 'Read' || op === 'Write') {
            const device = text.slice(start, s1);
            const v = Number(text.slice(s2 + 1, end));
            if (DEVICE.test(device) && Number.isFinite(v)) {
              if (op === 'Read') get(device)[read] += v;
              else get(device)[write] += v;
            }
          }
        }
        start = end + 1;
      }
    };
    parse(bytes, 'readBytes', 'writeBytes');
    parse(ops, 'reads', 'writes');
    return f.finish([...devices.values()], [blkio]);
  }

  async pids(cgroupPath: string): Promise<StatResult<PidsStats>> {
    const f = new CgroupFiles(cgroupPath, this.files);
    const pids = this.dir('pids');
    const current = f.number(pids, 'pids.current');
    const max = f.number(pids, 'pids.max');
    return f.finish({ current, max: limitValue(max) }, [pids]);
  }

  async spec(cgroupPath: string): Promise<StatResult<SpecStats>> {
    // Read once per 30 s (the spec collector caches it): not worth a kept fd.
    const f = new CgroupFiles(cgroupPath);
    const mem = this.dir('memory');
    const cpu = this.dir('cpu');
    const limit = f.number(mem, 'memory.limit_in_bytes');
    const quota = f.number(cpu, 'cpu.cfs_quota_us');
    const period = f.number(cpu, 'cpu.cfs_period_us');
    const shares = f.number(cpu, 'cpu.shares');
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
    const f = new CgroupFiles(cgroupPath, this.files);
    for (const dir of dirs) {
      const text = f.text(dir, 'cgroup.procs');
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
