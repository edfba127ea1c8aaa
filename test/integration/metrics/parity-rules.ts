/**
 * What the cAdvisor parity test compares, how closely, and what it leaves
 * out with the reason. A family both exporters have for the same
 * containers must be in COMPARED or NOT_COMPARED: the test fails on any
 * other, so a family added on either side is never silently unchecked.
 */

export interface Rule {
  /**
   * counter: rates over the same window agree, and the values at the end of
   * it agree once the difference of the two read times is allowed for;
   * gauge: values read at the same moment (both scraped together) agree.
   */
  kind: 'counter' | 'gauge';
  /** Allowed difference: abs + rel × the larger value (or rate). */
  abs: number;
  rel: number;
  /**
   * filesystem: berth's per-container series of a filesystem are compared
   * with cAdvisor's root container (`id="/"`) series of the same `device`:
   * cAdvisor's raw handler reports filesystems only for the root cgroup.
   * machine: no container labels on either side.
   */
  scope?: 'container' | 'filesystem' | 'machine';
}

const MiB = 1 << 20;

export const COMPARED: Readonly<Record<string, Rule>> = {
  // CPU: same kernel counters; cAdvisor reads them at its housekeeping time
  // (stamped on each sample), berth at the scrape.
  container_cpu_usage_seconds_total: { kind: 'counter', abs: 0.05, rel: 0.05 },
  // cpuacct.stat in USER_HZ ticks (10 ms): a few ticks of slack.
  container_cpu_user_seconds_total: { kind: 'counter', abs: 0.05, rel: 0.05 },
  container_cpu_system_seconds_total: { kind: 'counter', abs: 0.05, rel: 0.05 },
  container_cpu_cfs_periods_total: { kind: 'counter', abs: 3, rel: 0.05 },
  container_cpu_cfs_throttled_periods_total: { kind: 'counter', abs: 3, rel: 0.05 },
  container_cpu_cfs_throttled_seconds_total: { kind: 'counter', abs: 0.1, rel: 0.05 },
  // cpu.stat nr_bursts / burst_time: 0 without a burst allowance (cAdvisor's v1 reader always reports 0).
  container_cpu_cfs_burst_periods_total: { kind: 'counter', abs: 0, rel: 0 },
  container_cpu_cfs_burst_seconds_total: { kind: 'counter', abs: 0, rel: 0 },
  // Memory of settled containers: the page cache and the shell's heap move a little.
  container_memory_usage_bytes: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_working_set_bytes: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_rss: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_cache: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_swap: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_mapped_file: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_max_usage_bytes: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_total_active_file_bytes: { kind: 'gauge', abs: MiB, rel: 0.02 },
  container_memory_total_inactive_file_bytes: { kind: 'gauge', abs: MiB, rel: 0.02 },
  // Page faults: the settled containers fault rarely; the loop not at all.
  container_memory_failures_total: { kind: 'counter', abs: 50, rel: 0.05 },
  container_memory_failcnt: { kind: 'counter', abs: 0, rel: 0 },
  container_oom_events_total: { kind: 'counter', abs: 0, rel: 0 },
  // Block I/O from blkio.throttle.* (the io container's direct I/O is over before the window).
  container_fs_reads_bytes_total: { kind: 'counter', abs: 0, rel: 0.01 },
  container_fs_writes_bytes_total: { kind: 'counter', abs: 0, rel: 0.01 },
  container_fs_reads_total: { kind: 'counter', abs: 0, rel: 0.01 },
  container_fs_writes_total: { kind: 'counter', abs: 0, rel: 0.01 },
  // Processes: every container's process tree is fixed once it has started.
  container_processes: { kind: 'gauge', abs: 0, rel: 0 },
  container_file_descriptors: { kind: 'gauge', abs: 0, rel: 0 },
  container_threads: { kind: 'gauge', abs: 0, rel: 0 },
  container_threads_max: { kind: 'gauge', abs: 0, rel: 0 },
  // Limits: the same cgroup files.
  container_spec_memory_limit_bytes: { kind: 'gauge', abs: 0, rel: 0 },
  container_spec_cpu_quota: { kind: 'gauge', abs: 0, rel: 0 },
  container_spec_cpu_period: { kind: 'gauge', abs: 0, rel: 0 },
  container_spec_cpu_shares: { kind: 'gauge', abs: 0, rel: 0 },
  // cAdvisor: the cgroup's creation (whole seconds); berth: the init's start. Same second, give or take one.
  container_start_time_seconds: { kind: 'gauge', abs: 2, rel: 0 },
  // cAdvisor: the cgroup's creation (whole seconds); berth: the container's creation, just before.
  container_creation_time_seconds: { kind: 'gauge', abs: 2, rel: 0 },
  // No health check on either side: -1.
  container_health_state: { kind: 'gauge', abs: 0, rel: 0 },
  // Each exporter's own read time.
  container_last_seen: { kind: 'gauge', abs: 5, rel: 0 },
  // statfs of the same filesystem; free inodes move with whatever else writes on the machine.
  container_fs_limit_bytes: { kind: 'gauge', abs: 0, rel: 0, scope: 'filesystem' },
  container_fs_inodes_total: { kind: 'gauge', abs: 0, rel: 0, scope: 'filesystem' },
  container_fs_inodes_free: { kind: 'gauge', abs: 50_000, rel: 0, scope: 'filesystem' },
  machine_cpu_cores: { kind: 'gauge', abs: 0, rel: 0, scope: 'machine' },
  machine_memory_bytes: { kind: 'gauge', abs: 0, rel: 0, scope: 'machine' },
};

const NETWORK_REASON =
  "cAdvisor's raw handler reads network statistics only for the root cgroup (it has no pid for any other, container/raw/handler.go), so it has no series for these containers to compare with; berth reads the init's /proc/<pid>/net/dev as cAdvisor's Docker handler does, checked against the namespace's own counters in the dashboards test";

/** Families both export (cAdvisor for the root cgroup or the containers), not compared by value, and why. */
export const NOT_COMPARED: Readonly<Record<string, string>> = {
  container_fs_usage_bytes:
    "cAdvisor's raw handler reports a filesystem's used bytes (capacity − free, container/raw/handler.go fsToFsStats) and only for the root cgroup; berth reports the container's writable layer as cAdvisor's Docker handler does (du of the layer), checked against GNU du here and in test/unit/metrics/fs.test.ts",
  container_network_receive_bytes_total: NETWORK_REASON,
  container_network_receive_packets_total: NETWORK_REASON,
  container_network_receive_errors_total: NETWORK_REASON,
  container_network_receive_packets_dropped_total: NETWORK_REASON,
  container_network_transmit_bytes_total: NETWORK_REASON,
  container_network_transmit_packets_total: NETWORK_REASON,
  container_network_transmit_errors_total: NETWORK_REASON,
  container_network_transmit_packets_dropped_total: NETWORK_REASON,
};

/**
 * Labels: cAdvisor's `id` is the raw container's name, its cgroup path, the
 * same string as berth's `id`. cAdvisor's raw handler knows no name or
 * image and leaves `name` and `image` out (equal to "" in PromQL); berth
 * sets them from the container (as cAdvisor's Docker handler does from
 * Docker). Every other label (cpu, device, interface) must be the same
 * name with the same value.
 */
export const CONTAINER_LABELS = ['id', 'name', 'image'] as const;
