import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../runtime/base/log.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { MetricsCollector, type MetricsCollectorOptions } from '../../../sidecar/metrics/collector.js';
import { MetricsServer } from '../../../sidecar/metrics/server.js';
import type { Roots } from '../../../sidecar/metrics/types.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { FIXED_NOW, FIXTURES } from './fixture-source.js';

/** A writable copy of a fixture tree, so a test can make containers vanish. */
export async function copyFixture(
  version: 'v1' | 'v2',
): Promise<{ dir: string; roots: Roots; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `berth-metrics-${version}-`));
  await cp(join(FIXTURES, version), dir, { recursive: true, verbatimSymlinks: true });
  return {
    dir,
    roots: { proc: join(dir, 'proc'), sys: join(dir, 'sys'), cgroup: join(dir, 'sys/fs/cgroup') },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Running {
  server: MetricsServer;
  source: FakeContainerSource;
  url: string;
  scrape(accept?: string): Promise<{ status: number; contentType: string | null; body: string }>;
  stop(): Promise<void>;
}

export async function startServer(
  containers: ContainerDescriptor[],
  roots: Roots,
  opts: Partial<MetricsCollectorOptions> = {},
): Promise<Running> {
  const source = new FakeContainerSource(containers);
  const collector = new MetricsCollector({
    source,
    roots,
    logger: silentLogger(),
    now: () => FIXED_NOW,
    ...opts,
  });
  const server = new MetricsServer({ collector, logger: silentLogger(), host: '127.0.0.1', port: 0 });
  const { port } = await server.start();
  const url = `http://127.0.0.1:${port}/metrics`;
  return {
    server,
    source,
    url,
    async scrape(accept?: string) {
      const res = await fetch(url, { headers: accept ? { accept } : {} });
      return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
    },
    stop: () => server.stop(),
  };
}

/** Sample lines of one metric (exact name, followed by `{` or space). */
export function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

export function value(body: string, name: string, labelFragment: string): number | undefined {
  const line = samples(body, name).find((l) => l.includes(labelFragment));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
