/**
 * Every container/machine metric berth exports, with cAdvisor's names, help
 * texts and types so stock dashboards work. Collectors may only emit names
 * listed here (the registry rejects others), and the README's table follows
 * this list.
 */
export interface FamilyDef {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** Labels beyond the container labels (id, name, image, …). */
  labels?: readonly string[];
  /** Host-level: no container labels. */
  machine?: boolean;
}

export const FAMILIES: readonly FamilyDef[] = [
  {
    name: 'container_cpu_usage_seconds_total',
    type: 'counter',
    help: 'Cumulative cpu time consumed in seconds.',
    labels: ['cpu'],
  },
  {
    name: 'container_cpu_user_seconds_total',
    type: 'counter',
    help: 'Cumulative user cpu time consumed in seconds.',
  },
  {
    name: 'container_cpu_system_seconds_total',
    type: 'counter',
    help: 'Cumulative system cpu time consumed in seconds.',
  },
  {
    name: 'container_cpu_cfs_periods_total',
    type: 'counter',
    help: 'Number of elapsed enforcement period intervals.',
  },
  {
    name: 'container_cpu_cfs_throttled_periods_total',
    type: 'counter',
    help: 'Number of throttled period intervals.',
  },
  {
    name: 'container_cpu_cfs_throttled_seconds_total',
    type: 'counter',
    help: 'Total time duration the container has been throttled.',
  },
  {
    name: 'container_cpu_cfs_burst_periods_total',
    type: 'counter',
    help: 'Number of periods when burst occurs.',
  },
  {
    name: 'container_cpu_cfs_burst_seconds_total',
    type: 'counter',
    help: 'Total time duration the container has been bursted.',
  },
  {
    name: 'container_memory_usage_bytes',
    type: 'gauge',
    help: 'Current memory usage in bytes, including all memory regardless of when it was accessed',
  },
  { name: 'container_memory_working_set_bytes', type: 'gauge', help: 'Current working set in bytes.' },
  { name: 'container_memory_rss', type: 'gauge', help: 'Size of RSS in bytes.' },
  { name: 'container_memory_cache', type: 'gauge', help: 'Number of bytes of page cache memory.' },
  { name: 'container_memory_swap', type: 'gauge', help: 'Container swap usage in bytes.' },
  { name: 'container_memory_mapped_file', type: 'gauge', help: 'Size of memory mapped files in bytes.' },
  { name: 'container_memory_max_usage_bytes', type: 'gauge', help: 'Maximum memory usage recorded in bytes' },
  {
    name: 'container_memory_total_active_file_bytes',
    type: 'gauge',
    help: 'Current total active file in bytes.',
  },
  {
    name: 'container_memory_total_inactive_file_bytes',
    type: 'gauge',
    help: 'Current total inactive file in bytes.',
  },
  {
    name: 'container_memory_failures_total',
    type: 'counter',
    help: 'Cumulative count of memory allocation failures.',
    labels: ['failure_type', 'scope'],
  },
  { name: 'container_memory_failcnt', type: 'counter', help: 'Number of memory usage hits limits' },
  {
    name: 'container_oom_events_total',
    type: 'counter',
    help: 'Count of out of memory events observed for the container',
  },
  {
    name: 'container_fs_reads_bytes_total',
    type: 'counter',
    help: 'Cumulative count of bytes read',
    labels: ['device'],
  },
  {
    name: 'container_fs_writes_bytes_total',
    type: 'counter',
    help: 'Cumulative count of bytes written',
    labels: ['device'],
  },
  {
    name: 'container_fs_reads_total',
    type: 'counter',
    help: 'Cumulative count of reads completed',
    labels: ['device'],
  },
  {
    name: 'container_fs_writes_total',
    type: 'counter',
    help: 'Cumulative count of writes completed',
    labels: ['device'],
  },
  {
    name: 'container_network_receive_bytes_total',
    type: 'counter',
    help: 'Cumulative count of bytes received',
    labels: ['interface'],
  },
  {
    name: 'container_network_receive_packets_total',
    type: 'counter',
    help: 'Cumulative count of packets received',
    labels: ['interface'],
  },
  {
    name: 'container_network_receive_errors_total',
    type: 'counter',
    help: 'Cumulative count of errors encountered while receiving',
    labels: ['interface'],
  },
  {
    name: 'container_network_receive_packets_dropped_total',
    type: 'counter',
    help: 'Cumulative count of packets dropped while receiving',
    labels: ['interface'],
  },
  {
    name: 'container_network_transmit_bytes_total',
    type: 'counter',
    help: 'Cumulative count of bytes transmitted',
    labels: ['interface'],
  },
  {
    name: 'container_network_transmit_packets_total',
    type: 'counter',
    help: 'Cumulative count of packets transmitted',
    labels: ['interface'],
  },
  {
    name: 'container_network_transmit_errors_total',
    type: 'counter',
    help: 'Cumulative count of errors encountered while transmitting',
    labels: ['interface'],
  },
  {
    name: 'container_network_transmit_packets_dropped_total',
    type: 'counter',
    help: 'Cumulative count of packets dropped while transmitting',
    labels: ['interface'],
  },
  { name: 'container_processes', type: 'gauge', help: 'Number of processes running inside the container.' },
  {
    name: 'container_fs_usage_bytes',
    type: 'gauge',
    help: 'Number of bytes that are consumed by the container on this filesystem.',
    labels: ['device'],
  },
  {
    name: 'container_fs_limit_bytes',
    type: 'gauge',
    help: 'Number of bytes that can be consumed by the container on this filesystem.',
    labels: ['device'],
  },
  { name: 'container_fs_inodes_total', type: 'gauge', help: 'Number of Inodes', labels: ['device'] },
  { name: 'container_fs_inodes_free', type: 'gauge', help: 'Number of available Inodes', labels: ['device'] },
  {
    name: 'container_file_descriptors',
    type: 'gauge',
    help: 'Number of open file descriptors for the container.',
  },
  { name: 'container_threads', type: 'gauge', help: 'Number of threads running inside the container' },
  {
    name: 'container_threads_max',
    type: 'gauge',
    help: 'Maximum number of threads allowed inside the container, infinity if value is zero',
  },
  {
    name: 'container_start_time_seconds',
    type: 'gauge',
    help: 'Start time of the container since unix epoch in seconds.',
  },
  {
    name: 'container_creation_time_seconds',
    type: 'gauge',
    help: 'Container creation time since unix epoch in seconds.',
  },
  { name: 'container_health_state', type: 'gauge', help: "The result of the container's health check" },
  { name: 'container_last_seen', type: 'gauge', help: 'Last time a container was seen by the exporter' },
  { name: 'container_spec_memory_limit_bytes', type: 'gauge', help: 'Memory limit for the container.' },
  { name: 'container_spec_cpu_quota', type: 'gauge', help: 'CPU quota of the container.' },
  { name: 'container_spec_cpu_period', type: 'gauge', help: 'CPU period of the container.' },
  { name: 'container_spec_cpu_shares', type: 'gauge', help: 'CPU share of the container.' },
  {
    // Not a cAdvisor metric (it cannot know restarts); a gauge because the count lives in
    // the container's descriptor and survives agent restarts, unlike a process-local counter.
    name: 'berth_container_restarts',
    type: 'gauge',
    help: 'Times the runtime has restarted the container under its restart policy.',
  },
  { name: 'machine_cpu_cores', type: 'gauge', help: 'Number of logical CPU cores.', machine: true },
  {
    name: 'machine_memory_bytes',
    type: 'gauge',
    help: 'Amount of memory installed on the machine.',
    machine: true,
  },
];

/** One series per container carrying its allow-listed labels (joined on `id` in PromQL). */
export const INFO_FAMILY: FamilyDef = {
  name: 'berth_container_info',
  type: 'gauge',
  help: 'Always 1: a container berth measures, with its allow-listed labels as container_label_<key>.',
};

/** The agent's own view of its collection, refreshed on every scrape. */
export const SELF_FAMILIES: readonly FamilyDef[] = [
  {
    name: 'berth_metrics_collector_duration_seconds',
    type: 'gauge',
    help: 'Time each collector spent in the last scrape, summed over containers.',
    labels: ['collector'],
  },
  {
    name: 'berth_metrics_collector_success',
    type: 'gauge',
    help: '1 when the collector read every container it was given in the last scrape (missing files and vanished containers do not count as failures).',
    labels: ['collector'],
  },
  {
    name: 'berth_metrics_skipped_total',
    type: 'counter',
    help: 'Reads skipped since start: missing_file (the kernel does not provide it), vanished (the container went away mid-scrape), error (unexpected failure).',
    labels: ['collector', 'reason'],
  },
  {
    name: 'berth_metrics_scrape_duration_seconds',
    type: 'gauge',
    help: 'Duration of the last container metrics collection.',
  },
  { name: 'berth_metrics_containers', type: 'gauge', help: 'Containers measured in the last scrape.' },
  {
    name: 'berth_metrics_scrapes_total',
    type: 'counter',
    help: 'Collections run since start (one per /metrics request).',
  },
];
