/**
 * Fake ports for the container manager's unit tests: pure logic (state
 * machine, exits, restarts, restore) without runc, conmon or a network. Each
 * fake records what it was asked; the executor lets a test decide when and
 * how a container exits and what `adopt` finds after an agent restart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventExchange } from '../../../runtime/base/events.js';
import type { Logger } from '../../../runtime/base/log.js';
import { ContainerManager } from '../../../runtime/containers/manager.js';
import type { ContainerRecord } from '../../../runtime/containers/record.js';
import type { ExecutorPort, ExitInfo, LogPort } from '../../../runtime/exec/types.js';
import type { ImageOps, ImagePort, ResolvedImage } from '../../../runtime/image/types.js';
import type { NetworkAttachment, NetworkPort } from '../../../runtime/network/types.js';
import type { ManagedConfig, SpecPort } from '../../../runtime/oci/types.js';
import type { RestartBackoff } from '../../../runtime/restart/policy.js';
import { parseRestartPolicy } from '../../../runtime/restart/policy.js';
import type { SnapshotPort } from '../../../runtime/snapshot/types.js';
import type { RuntimeEvent } from '../../../runtime/types.js';

type Adopted = Awaited<ReturnType<ExecutorPort['adopt']>>;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export class FakeExecutor implements ExecutorPort {
  readonly calls: string[] = [];
  /** What `adopt` answers per id (default: missing, as for a bundle that is gone). */
  readonly adoptAs = new Map<string, Adopted>();
  /** When set, `start` throws it (a failed `runc start`). */
  failStart: Error | undefined;
  private readonly exits = new Map<string, Deferred<ExitInfo>>();
  private pid = 1000;

  async create(id: string): Promise<{ pid: number }> {
    this.calls.push(`create ${id}`);
    this.exits.set(id, deferred());
    return { pid: ++this.pid };
  }
  async start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    if (this.failStart) throw this.failStart;
  }
  async kill(id: string, signal: string): Promise<void> {
    this.calls.push(`kill ${id} ${signal}`);
    this.exit(id, signal === 'SIGKILL' ? 137 : 143, signal);
  }
  wait(id: string): Promise<ExitInfo> {
    let d = this.exits.get(id);
    if (!d) {
      d = deferred();
      this.exits.set(id, d);
    }
    return d.promise;
  }
  async delete(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
  }
  async exec(): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return { exitCode: 0, stdout: '', stderr: '' };
  }
  async adopt(id: string): Promise<Adopted> {
    this.calls.push(`adopt ${id}`);
    const found = this.adoptAs.get(id) ?? { status: 'missing' };
    if (found.status === 'running') this.exits.set(id, deferred());
    return found;
  }
  /** The container's init exits now with `exitCode`. */
  exit(id: string, exitCode: number, signal?: string): void {
    // Kept (resolved) until the next create: a `wait` that comes after the exit still sees it.
    const d = this.exits.get(id);
    d?.resolve({
      exitCode,
      oomKilled: false,
      finishedAt: new Date().toISOString(),
      ...(signal ? { signal } : {}),
    });
  }
  count(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }
}

export class FakeNetwork implements NetworkPort {
  readonly attached = new Set<string>();
  restored: string[] | undefined;
  async attach(id: string, req: { ports: NetworkAttachment['ports'] }): Promise<NetworkAttachment> {
    this.attached.add(id);
    return { addresses: { bridge: '10.0.0.2' }, ports: req.ports };
  }
  async detach(id: string): Promise<void> {
    this.attached.delete(id);
  }
  async restore(liveIds: string[]): Promise<void> {
    this.restored = liveIds;
  }
}

export class FakeSnapshots implements SnapshotPort {
  readonly prepared = new Set<string>();
  kept: string[] | undefined;
  async prepare(key: string): Promise<{ rootfs: string }> {
    this.prepared.add(key);
    return { rootfs: `/fake/rootfs/${key}` };
  }
  async remove(key: string): Promise<void> {
    this.prepared.delete(key);
  }
  async restore(keep: string[]): Promise<void> {
    this.kept = keep;
  }
}

export const IMAGE: ResolvedImage = {
  id: 'sha256:0123',
  ref: 'test/busybox:1',
  name: 'test/busybox',
  tag: '1',
  config: {},
  layerDirs: [],
};

class FakeImages implements ImagePort {
  async resolve(): Promise<ResolvedImage> {
    return IMAGE;
  }
}

/** The spec builder reduced to what the manager reads: name, restart, autoRemove. */
class FakeSpec implements SpecPort {
  async validate(request: unknown): Promise<ManagedConfig> {
    const r = request as { name?: string; restart?: string; autoRemove?: boolean };
    return {
      ...(r.name ? { name: r.name } : {}),
      image: IMAGE.ref,
      labels: {},
      env: ['A=1'],
      network: 'none',
      ports: [],
      restart: parseRestartPolicy(r.restart ?? 'no'),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 1000,
      autoRemove: r.autoRemove ?? false,
      raw: {},
    };
  }
  async build(): Promise<Record<string, unknown>> {
    return { ociVersion: '1.0.2' };
  }
  cgroupPath(id: string): string {
    return `/berth/${id}`;
  }
}

const noImageOps = new Proxy({} as ImageOps, {
  get: () => () => Promise.reject(new Error('image ops are not faked')),
});

const noLogs: LogPort = {
  async *read() {},
};

/** A pino logger whose lines a test can read. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

export interface Harness {
  manager: ContainerManager;
  executor: FakeExecutor;
  network: FakeNetwork;
  snapshots: FakeSnapshots;
  /** Topics published, in order, with the container name. */
  events: Array<{ topic: string; name: string; exitCode?: number }>;
  lines: Array<Record<string, unknown>>;
  stateRoot: string;
}

/** A ContainerManager over the fakes, its state under `dir`. */
export function harness(dir: string, backoff?: RestartBackoff): Harness {
  const executor = new FakeExecutor();
  const network = new FakeNetwork();
  const snapshots = new FakeSnapshots();
  const exchange = new EventExchange<RuntimeEvent>();
  const events: Harness['events'] = [];
  const publish = exchange.publish.bind(exchange);
  exchange.publish = (topic, event, time) => {
    const e = event as { container?: { name: string }; exitCode?: number };
    events.push({
      topic,
      name: e.container?.name ?? '',
      ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
    });
    return publish(topic, event, time);
  };
  const { logger, lines } = recordingLogger();
  const stateRoot = join(dir, 'state');
  const manager = new ContainerManager({
    stateRoot,
    runDir: join(dir, 'run'),
    images: new FakeImages(),
    imageOps: noImageOps,
    snapshots,
    network,
    spec: new FakeSpec(),
    executor,
    logs: noLogs,
    events: exchange,
    logger,
    ...(backoff ? { backoff } : {}),
  });
  return { manager, executor, network, snapshots, events, lines, stateRoot };
}

/** Writes a record as an earlier agent left it, for restore. */
export async function writeRecord(
  stateRoot: string,
  rec: Partial<ContainerRecord> & { id: string },
): Promise<void> {
  const dir = join(stateRoot, 'containers', rec.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'container.json'), JSON.stringify(rec));
}

/** Polls until `fn` is true (restart timers and exit handling run on their own). */
export async function until(fn: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
