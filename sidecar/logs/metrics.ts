import type { MetricFamily } from '../types.js';
import type { LogPipelineMetrics } from './pipeline.js';

/**
 * The log pipeline's counters as `berth_logs_*` families (the contract the
 * log-pipeline dashboard reads; see dashboards/README.md). Totals only: the
 * pipeline's per-container counters vanish with their container, and
 * per-container series would double the agent's series count for little.
 * Delivered as the log shipping sidecar's `metrics.logs` (see index.ts).
 */
export function logPipelineFamilies(m: LogPipelineMetrics): MetricFamily[] {
  const one = (value: number) => [{ labels: {}, value }];
  return [
    {
      name: 'berth_logs_records_read_total',
      type: 'counter',
      help: 'Log records read from container log files (after joining partial lines).',
      samples: one(m.linesRead),
    },
    {
      name: 'berth_logs_records_shipped_total',
      type: 'counter',
      help: 'Log records acknowledged by a Fluentd Forward receiver.',
      samples: one(m.recordsShipped),
    },
    {
      name: 'berth_logs_retries_total',
      type: 'counter',
      help: 'Batches the output answered retry (each re-send counts).',
      samples: one(m.batchesRetried),
    },
    {
      name: 'berth_logs_records_dropped_total',
      type: 'counter',
      help: 'Log records dropped: disk spool overflow plus batches the receiver refused.',
      samples: one(m.recordsDropped),
    },
    {
      name: 'berth_logs_records_spooled_total',
      type: 'counter',
      help: 'Log records written to the disk spool while the receiver was slow or down.',
      samples: one(m.recordsSpooled),
    },
    {
      name: 'berth_logs_malformed_lines_total',
      type: 'counter',
      help: 'Lines of container log files that were not k8s-file entries.',
      samples: one(m.malformedLines),
    },
    {
      name: 'berth_logs_rotations_total',
      type: 'counter',
      help: 'Log file replacements and truncations the tailers followed.',
      samples: one(m.rotations),
    },
    {
      name: 'berth_logs_reader_pauses_total',
      type: 'counter',
      help: 'Times a log reader waited for the sender (receiver slower than the container; the log file buffers).',
      samples: one(m.readerPauses),
    },
    {
      name: 'berth_logs_handshake_failures_total',
      type: 'counter',
      help: 'Forward handshakes (HELO/PING/PONG) that failed, per receiver: refused, wrong shared key, or demanded but not configured.',
      samples: Object.entries(m.handshakeFailures ?? {}).map(([server, value]) => ({
        labels: { server },
        value,
      })),
    },
    {
      name: 'berth_logs_spool_bytes',
      type: 'gauge',
      help: 'Bytes in the disk spools now.',
      samples: one(m.spooledBytes),
    },
    {
      name: 'berth_logs_backlog_records',
      type: 'gauge',
      help: 'Records read but not yet acknowledged.',
      samples: one(m.backlog),
    },
    {
      name: 'berth_logs_containers',
      type: 'gauge',
      help: 'Containers whose logs are being shipped.',
      samples: one(m.containers),
    },
  ];
}
