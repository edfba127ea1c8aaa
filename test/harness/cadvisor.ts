/**
 * The real cAdvisor (its v0.57 library behind test/tools/cadvisor's main,
 * built by `.ci/setup.sh test`) next to berth: the parity test and the
 * vs-cadvisor benchmark. Raw cgroup factory only, on loopback.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { type ManagedProcess, startProcess } from './proc.js';
import { toolPath } from './tools.js';

export interface CadvisorHandle {
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** One `all_hosts` entry of cAdvisor's container hints file (container/common/container_hints.go). */
export interface CadvisorHint {
  /** The raw container's name: its cgroup path (`/berth/<id>`). */
  full_path: string;
  mounts?: { host_dir: string; container_dir: string }[];
}

export interface StartCadvisorOptions {
  /** Cgroup path prefixes the raw factory accepts (its `raw_cgroup_prefix_whitelist`); `/` is always watched. */
  prefixes: string[];
  /** Directory for the hints file (when `hints` is given). */
  dir: string;
  hints?: CadvisorHint[];
  /** cAdvisor's `housekeeping_interval` (default 1s, cAdvisor's own). */
  housekeeping?: string;
  /** Default true, cAdvisor's own. */
  dynamicHousekeeping?: boolean;
  /** Metric kinds (`enable_metrics`); default: the daemon's default set. */
  metrics?: string[];
}

/** cAdvisor's daemon default metric kinds (docs/runtime_options.md, --disable_metrics), with `percpu` too. */
export const CADVISOR_DEFAULT_METRICS = [
  'app',
  'cpu',
  'cpuLoad',
  'disk',
  'diskIO',
  'memory',
  'network',
  'oom_event',
  'percpu',
  'perf_event',
  'pressure',
];

export async function startCadvisor(opts: StartCadvisorOptions): Promise<CadvisorHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const hintsPath = join(opts.dir, 'container_hints.json');
  if (opts.hints) await writeFile(hintsPath, JSON.stringify({ all_hosts: opts.hints }));
  const args = [
    '-listen',
    `127.0.0.1:${port}`,
    `-raw_cgroup_prefix_whitelist=${opts.prefixes.join(',')}`,
    `-container_hints=${opts.hints ? hintsPath : join(opts.dir, 'no-hints.json')}`,
    `-housekeeping_interval=${opts.housekeeping ?? '1s'}`,
    `-allow_dynamic_housekeeping=${opts.dynamicHousekeeping ?? true}`,
    `-enable_metrics=${(opts.metrics ?? CADVISOR_DEFAULT_METRICS).join(',')}`,
  ];
  const proc = await startProcess({
    name: 'cadvisor',
    cmd: toolPath('cadvisor'),
    args,
    ready: async () => (await fetch(url.replace('/metrics', '/healthz'))).ok,
    readyTimeoutMs: 30_000,
  });
  return { url, process: proc, stop: () => proc.stop('SIGTERM', 5000) };
}
