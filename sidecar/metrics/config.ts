import { type HostPort, parseHostPort } from '../../runtime/base/address.js';
import { type ConfigOf, defineConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { COLLECTOR_NAMES } from './collectors/index.js';
import type { Roots } from './types.js';

/** The metrics sidecar's config rows (keys under `metrics.` in the agent config). */
export const METRICS_CONFIG = defineConfig([
  {
    key: 'listen',
    type: 'string',
    default: '127.0.0.1:9338',
    env: 'BERTH_METRICS_LISTEN',
    description:
      'host:port of the /metrics endpoint; 0.0.0.0:9338 for a Prometheus on another host (port 0 picks a free port).',
  },
  {
    key: 'labelsAllowlist',
    type: 'string[]',
    default: ['com.docker.compose.service'],
    env: 'BERTH_METRICS_LABELS_ALLOWLIST',
    description:
      'Container label keys exported as container_label_<key> on berth_container_info; other labels are never exported, which bounds cardinality.',
  },
  {
    key: 'labelsOnAllSeries',
    type: 'bool',
    default: false,
    description:
      'Also put the allow-listed labels on every container series, as cAdvisor does (more series bytes, easier queries).',
  },
  {
    key: 'roots',
    type: 'string',
    default: '/proc:/sys:/sys/fs/cgroup',
    env: 'BERTH_METRICS_ROOTS',
    description:
      'proc:sys:cgroup roots every read goes through; in a DaemonSet point them at the host mounts, e.g. /host/proc:/host/sys:/host/sys/fs/cgroup.',
  },
  {
    key: 'gzip',
    type: 'bool',
    default: false,
    description:
      'gzip /metrics when the scraper accepts it (Prometheus does): ~20x fewer bytes for a remote Prometheus, ~15 ms more CPU per 1,000 containers.',
  },
  {
    key: 'collectors',
    type: 'string[]',
    default: COLLECTOR_NAMES,
    description: `Collectors to run: ${COLLECTOR_NAMES.join(', ')}.`,
  },
]);

/** `metrics.*` as the table types it. */
export type MetricsConfig = ConfigOf<typeof METRICS_CONFIG>;

/** `host:port` or `[v6]:port`; an empty host (`:9338`) listens on every IPv4 address. */
export function parseListen(value: string, field = 'metrics.listen'): HostPort {
  return parseHostPort(value, { field, defaultHost: '0.0.0.0', minPort: 0, example: '127.0.0.1:9338' });
}

/** `proc:sys:cgroup` → Roots; each must be an absolute path. */
export function parseRoots(value: string, field = 'metrics.roots'): Roots {
  const parts = value.split(':');
  if (parts.length !== 3 || parts.some((p) => !p.startsWith('/'))) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(value)} is not proc:sys:cgroup absolute paths (e.g. /proc:/sys:/sys/fs/cgroup)`,
      { field },
    );
  }
  const [proc = '', sys = '', cgroup = ''] = parts;
  return { proc, sys, cgroup };
}
