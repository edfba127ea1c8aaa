import type { HostRoots } from '../../runtime/cgroups/roots.js';
import type { ContainerDescriptor } from '../../runtime/types.js';

/**
 * Where every read of procfs, sysfs and cgroupfs starts: the runtime's
 * `HostRoots` (runtime/cgroups/roots.ts). Production uses the host's `/proc`,
 * `/sys` and `/sys/fs/cgroup`; tests point them at fixture trees.
 */
export type Roots = HostRoots;

export type CgroupVersion = 'v1' | 'v2';

/** Seconds and counts as the kernel reports them, converted to base units. */
export interface CpuStats {
  /** Total CPU time consumed, seconds. */
  usageSeconds?: number;
  userSeconds?: number;
  systemSeconds?: number;
  nrPeriods?: number;
  nrThrottled?: number;
  throttledSeconds?: number;
  /** CFS burst (Linux ≥ 5.14): periods that used burst capacity, and the burst time in seconds. */
  nrBursts?: number;
  burstSeconds?: number;
}

export interface MemoryStats {
  usage?: number;
  /** usage − inactive file pages, floored at 0 (cAdvisor's definition). */
  workingSet?: number;
  rss?: number;
  cache?: number;
  swap?: number;
  mappedFile?: number;
  /** v1 only: memory.max_usage_in_bytes. */
  maxUsage?: number;
  failcnt?: number;
  oomKills?: number;
  /** The file LRU lists (memory.stat active_file / inactive_file, hierarchical on v1). */
  activeFile?: number;
  inactiveFile?: number;
  /** Page faults of the cgroup itself (`container`) and with its children (`hierarchy`), as cAdvisor splits them. */
  pgfault?: number;
  pgmajfault?: number;
  pgfaultHierarchy?: number;
  pgmajfaultHierarchy?: number;
}

export interface BlkioDeviceStats {
  /** `major:minor` */
  device: string;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

export interface PidsStats {
  current?: number;
  /** 0 when unlimited (`max`), as cAdvisor reports it. */
  max?: number;
}

export interface SpecStats {
  /** 0 when unlimited. */
  memoryLimit?: number;
  /** Microseconds per period; absent when unlimited. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** v1 cpu.shares, or v2 cpu.weight converted to shares. */
  cpuShares?: number;
}

/**
 * A stat read that may be partial: files the kernel does not provide (swap
 * accounting off, an older kernel, a controller not enabled) leave their
 * fields undefined and are listed in `missing`, so the caller can count them
 * without failing the scrape.
 */
export interface StatResult<T> {
  stats: T;
  missing: string[];
}

/**
 * Reads one container's cgroup through the configured roots. The version is
 * detected once (see `detectCgroups`); one implementation per version.
 * Every method throws NotFoundError when the cgroup itself is gone (the
 * container vanished between list and read); a single missing file is
 * reported in `missing` instead.
 */
export interface CgroupReader {
  readonly version: CgroupVersion;
  cpu(cgroupPath: string): Promise<StatResult<CpuStats>>;
  memory(cgroupPath: string): Promise<StatResult<MemoryStats>>;
  blkio(cgroupPath: string): Promise<StatResult<BlkioDeviceStats[]>>;
  pids(cgroupPath: string): Promise<StatResult<PidsStats>>;
  spec(cgroupPath: string): Promise<StatResult<SpecStats>>;
  /** Pids listed in cgroup.procs. */
  procs(cgroupPath: string): Promise<number[]>;
}

/** Labels a collector adds to a sample, beyond the container's own. */
export type SampleLabels = Record<string, string>;

/** A collector hands each sample to `emit`; the wrapper adds container labels. */
export type Emit = (metric: string, labels: SampleLabels, value: number) => void;

/** What a container-scoped collector reads. */
export interface ContainerTarget {
  container: ContainerDescriptor;
  /** Always set: containers without one are not collected. */
  cgroupPath: string;
  reader: CgroupReader;
  roots: Roots;
  /** Scrape time, seconds since the epoch (injectable so golden files are stable). */
  now: number;
  /** Report a file that could not be read without failing (counted in berth_metrics_skipped_total). */
  skip(file: string): void;
}

/** What a host-scoped collector reads. */
export interface MachineTarget {
  roots: Roots;
  skip(file: string): void;
}

/**
 * One small collector per concern (node_exporter style). `update` reads and
 * emits; it throws NotFoundError when the container vanished mid-read, any
 * other error marks the collector failed for this scrape.
 */
export type Collector =
  | { name: string; scope: 'container'; update(target: ContainerTarget, emit: Emit): Promise<void> }
  | { name: string; scope: 'machine'; update(target: MachineTarget, emit: Emit): Promise<void> };

/**
 * One family's samples as two parallel lists: the label set already
 * formatted (`{id="…",…}`, see formatLabels) and the value. No object per
 * series: a 1,000-container scrape has ~43,000.
 */
export interface FamilySamples {
  labels: string[];
  values: number[];
}

/** One scrape's samples by family name. */
export type Snapshot = ReadonlyMap<string, FamilySamples>;
