import type { Logger } from '../../runtime/base/log.js';
import type { ContainerManager } from '../../runtime/containers/manager.js';
import type { ConmonExecutor } from '../../runtime/exec/executor.js';
import { type LogRotationCounters, LogRotator } from '../../runtime/exec/log-rotator.js';
import type { MetricFamily } from '../../sidecar/types.js';

/**
 * berth's log rotation for its own containers (runtime/exec/log-rotator.ts):
 * at `logMaxSize` the file becomes `<path>.1` and conmon reopens through its
 * control FIFO; conmon itself gets no `--log-size-max`. Started by run.ts once
 * the log shipper can answer whether `.1` is acknowledged.
 */
export function createLogRotator(deps: {
  maxBytes: number;
  manager: ContainerManager;
  executor: ConmonExecutor;
  logger: Logger;
}): LogRotator {
  return new LogRotator({
    maxBytes: deps.maxBytes,
    containers: async () =>
      (await deps.manager.list({ all: true })).flatMap((c) =>
        c.logPath ? [{ id: c.id, logPath: c.logPath, running: c.state === 'running' }] : [],
      ),
    openControl: (id) => deps.executor.openLogControl(id),
    logger: deps.logger,
  });
}

/** The rotator's counters on /metrics. */
export function logRotationFamilies(c: LogRotationCounters): MetricFamily[] {
  const counter = (name: string, help: string, value: number): MetricFamily => ({
    name,
    type: 'counter',
    help,
    samples: [{ labels: {}, value }],
  });
  return [
    counter('berth_log_rotations_total', 'Container log files rotated to .1 by berth.', c.rotations),
    counter(
      'berth_log_rotations_deferred_total',
      'Due log rotations that waited for the log shipper to acknowledge the old file.',
      c.deferred,
    ),
    counter(
      'berth_log_old_files_dropped_total',
      'Old log files (.1) replaced before the log shipper acknowledged them, because the cap (4 x logMaxSize for both files) was reached.',
      c.oldFilesDropped,
    ),
    counter('berth_log_rotation_failures_total', 'Log rotations that failed (logged).', c.failures),
  ];
}
