import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { pollUntil, startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';

export interface StartPrometheusOptions {
  /** host:port scrape targets of the job 'berth-test' (path /metrics). */
  targets: string[];
  /** Default '1s', so a test sees a sample within a couple of seconds. */
  scrapeInterval?: string;
  /** More entries of scrape_configs, as objects (rendered to YAML). */
  extraScrapeConfigs?: Record<string, unknown>[];
}

/** One instant-vector element of /api/v1/query. */
export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as a string] as Prometheus sends it. */
  value: [number, string];
}

export interface PrometheusHandle {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  configPath: string;
  /** Instant query; throws on a PromQL error or a non-vector result. */
  query(promql: string): Promise<PromSample[]>;
  /** Polls `query` until it returns at least one sample, bounded by `timeoutMs`. */
  waitForSeries(promql: string, timeoutMs: number): Promise<PromSample[]>;
  output(): string;
  stop(): Promise<void>;
}

export function renderPrometheusConfig(opts: StartPrometheusOptions): string {
  const interval = opts.scrapeInterval ?? '1s';
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: [
      { job_name: 'berth-test', static_configs: [{ targets: opts.targets }] },
      ...(opts.extraScrapeConfigs ?? []),
    ],
  });
}

/** Prometheus (Debian's) with a generated config and TSDB in a temp dir; ready on /-/ready. */
export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusHandle> {
  const dir = await tempDir('prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'prometheus.yml');
  await writeFile(configPath, renderPrometheusConfig(opts));
  let proc: Awaited<ReturnType<typeof startProcess>>;
  try {
    proc = await startProcess({
      name: 'prometheus',
      cmd: 'prometheus',
      args: [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      cwd: dir,
      readyTimeoutMs: 20_000,
      ready: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok,
    });
  } catch (err) {
    await removeDir(dir);
    throw err;
  }

  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as {
      status?: string;
      error?: string;
      data?: { resultType?: string; result?: PromSample[] };
    };
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error ?? res.status}`);
    if (body.data?.resultType !== 'vector') {
      throw new Error(`prometheus query ${promql}: result type ${body.data?.resultType}, want vector`);
    }
    return body.data.result ?? [];
  };

  return {
    url,
    port,
    configPath,
    query,
    waitForSeries: (promql, timeoutMs) =>
      pollUntil(
        `prometheus series ${promql}`,
        async () => {
          const r = await query(promql);
          return r.length > 0 ? r : undefined;
        },
        timeoutMs,
        250,
      ),
    output: () => proc.output(),
    async stop() {
      await proc.stop('SIGTERM', 5000);
      await removeDir(dir);
    },
  };
}
