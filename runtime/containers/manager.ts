import { errorCode, isNotFound } from '../base/errors.js';
import type { Envelope, SubscribeOptions } from '../base/events.js';
import type {
  ExecIO,
  ExecRequest,
  ExecResult,
  ImageSummary,
  LogLine,
  LogQuery,
  PullProgress,
  Runtime,
  VolumeSummary,
  WaitResult,
} from '../runtime.js';
import type { ContainerDescriptor, RuntimeEvent } from '../types.js';
import { VolumeOps } from '../volumes/ops.js';
import { ContainerContext, type ContainerManagerDeps } from './context.js';
import { ExitHandler } from './exits.js';
import { HealthWatch } from './health-watch.js';
import { Lifecycle } from './lifecycle.js';
import { LogFollow } from './log-follow.js';
import { NetworkOps } from './networks.js';
import type { ContainerRecord } from './record.js';
import { RestartScheduler } from './restarts.js';
import { Restorer } from './restore.js';

export { type ContainerManagerDeps, CRASH_POINTS, type CrashPoint } from './context.js';

/**
 * berth's container lifecycle: create → start → (health) → died → restart
 * or stay exited → remove. State is persisted per container and re-adopted
 * on agent start (`restore`). Operations on one container are serialised;
 * different containers proceed in parallel.
 *
 * The facade the API and the agent hold: it wires the parts (one job each,
 * see README) and delegates: lifecycle.ts (the verbs), exits.ts (exit
 * handling), restarts.ts (restart timers), restore.ts (live restore),
 * log-follow.ts, health-watch.ts, runtime/volumes/ops.ts, and the image verbs
 * below (forwarded to the image store).
 */
export class ContainerManager implements Runtime {
  private readonly ctx: ContainerContext;
  private readonly health: HealthWatch;
  private readonly restarts: RestartScheduler;
  private readonly follow: LogFollow;
  private readonly exits: ExitHandler;
  private readonly lifecycle: Lifecycle;
  private readonly restorer: Restorer;
  private readonly volumeOps: VolumeOps;
  private readonly networkOps: NetworkOps;

  constructor(private readonly d: ContainerManagerDeps) {
    const ctx = new ContainerContext(d);
    this.ctx = ctx;
    this.volumeOps = new VolumeOps(
      d.spec.volumes,
      {
        all: () =>
          [...ctx.records.values()].map((r) => ({
            name: r.name,
            mounts: d.spec.volumesOf?.(r.config) ?? [],
          })),
      },
      d.logger,
    );
    this.health = new HealthWatch(ctx);
    this.restarts = new RestartScheduler(ctx, (rec) => this.lifecycle.restartNow(rec));
    this.follow = new LogFollow(ctx, (id, signal) => this.exits.wait(id, signal));
    this.exits = new ExitHandler(ctx, this.health, this.restarts, this.follow, this.volumeOps);
    this.lifecycle = new Lifecycle(ctx, this.exits, this.health, this.restarts, this.volumeOps);
    this.restorer = new Restorer(ctx, this.exits, this.health, this.restarts, this.volumeOps);
    this.networkOps = new NetworkOps(ctx);
  }

  /** `berth network connect`: joins a container to a network (at once when running; runtime/containers/networks.ts). */
  connectNetwork(idOrName: string, network: string, aliases: string[] = []): Promise<ContainerDescriptor> {
    return this.networkOps.connect(idOrName, network, aliases);
  }

  /** `berth network disconnect`. */
  disconnectNetwork(idOrName: string, network: string): Promise<ContainerDescriptor> {
    return this.networkOps.disconnect(idOrName, network);
  }

  /** Containers (any state) configured to join `network`: `network rm` and `prune` leave it while there are some. */
  containersOnNetwork(network: string): string[] {
    return this.networkOps.configuredOn(network);
  }

  // ---- read side (ContainerSource) -------------------------------------------

  async list(opts: { all?: boolean } = {}): Promise<ContainerDescriptor[]> {
    return [...this.ctx.records.values()]
      .filter((r) => opts.all || r.state === 'running' || r.state === 'restarting')
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((r) => this.ctx.describe(r));
  }

  async get(idOrName: string): Promise<ContainerDescriptor> {
    return this.ctx.describe(this.ctx.find(idOrName));
  }

  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.d.events.subscribe(opts);
  }

  async inspect(idOrName: string): Promise<Record<string, unknown>> {
    const r = this.ctx.find(idOrName);
    return {
      ...this.ctx.describe(r),
      config: r.config.raw,
      restartPolicy: r.config.restart,
      healthLog: r.healthLog,
      stoppedByUser: r.stoppedByUser,
      rootfs: r.rootfs,
      bundleDir: r.bundleDir,
      signal: r.signal,
    };
  }

  logs(idOrName: string, query: LogQuery): AsyncIterable<LogLine> {
    return this.follow.logs(idOrName, query);
  }

  describe(rec: ContainerRecord): ContainerDescriptor {
    return this.ctx.describe(rec);
  }

  // ---- lifecycle (lifecycle.ts) ---------------------------------------------------

  create(request: unknown): Promise<ContainerDescriptor> {
    return this.lifecycle.create(request);
  }

  start(idOrName: string): Promise<ContainerDescriptor> {
    return this.lifecycle.start(idOrName);
  }

  stop(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<WaitResult> {
    return this.lifecycle.stop(idOrName, opts);
  }

  /** stop (when running), then start: the same container, its id, config and volumes. */
  restart(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<ContainerDescriptor> {
    return this.lifecycle.restart(idOrName, opts);
  }

  kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    return this.lifecycle.kill(idOrName, signal);
  }

  remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.lifecycle.remove(idOrName, opts);
  }

  wait(idOrName: string, signal?: AbortSignal): Promise<WaitResult> {
    return this.exits.wait(idOrName, signal);
  }

  exec(idOrName: string, req: ExecRequest, io?: ExecIO): Promise<ExecResult> {
    return this.lifecycle.exec(idOrName, req, io);
  }

  /** Removes every container that is not running (exited, created, dead); returns their names. */
  async pruneContainers(): Promise<string[]> {
    const removed: string[] = [];
    for (const rec of [...this.ctx.records.values()]) {
      if (rec.state === 'running' || rec.state === 'restarting' || rec.state === 'removing') continue;
      await this.remove(rec.id).then(
        () => removed.push(rec.name),
        (err: unknown) => {
          // Started or removed meanwhile: not ours to prune any more.
          if (errorCode(err) !== 'FailedPrecondition' && !isNotFound(err)) throw err;
        },
      );
    }
    return removed;
  }

  // ---- volumes (runtime/volumes/ops.ts) ---------------------------------------

  volumes(): Promise<VolumeSummary[]> {
    return this.volumeOps.list();
  }

  inspectVolume(name: string): Promise<VolumeSummary> {
    return this.volumeOps.inspect(name);
  }

  createVolume(name: string): Promise<VolumeSummary> {
    return this.volumeOps.create(name);
  }

  removeVolume(name: string): Promise<void> {
    return this.volumeOps.remove(name);
  }

  pruneVolumes(): Promise<string[]> {
    return this.volumeOps.prune();
  }

  // ---- images (forwarded to the image store) -------------------------------------

  images(): Promise<ImageSummary[]> {
    return this.d.imageOps.list();
  }

  pull(
    ref: string,
    opts: Record<string, unknown>,
    onProgress?: (p: PullProgress) => void,
  ): Promise<ImageSummary> {
    return this.d.imageOps.pull(ref, opts, onProgress);
  }

  load(tar: NodeJS.ReadableStream): Promise<ImageSummary[]> {
    return this.d.imageOps.load(tar);
  }

  importRootfs(tar: NodeJS.ReadableStream, ref: string): Promise<ImageSummary> {
    return this.d.imageOps.importRootfs(tar, ref);
  }

  async removeImage(ref: string, opts: { force?: boolean } = {}): Promise<string[]> {
    // A --rm container that just went away may still have its rootfs mounted over the image's layers.
    await Promise.all(this.ctx.cleaning.values());
    return this.d.imageOps.remove(ref, {
      ...opts,
      inUse: (imageId) => [...this.ctx.records.values()].some((r) => r.image.id === imageId),
    });
  }

  tagImage(source: string, target: string): Promise<void> {
    return this.d.imageOps.tag(source, target);
  }

  login(registry: string, login: { username: string; password: string; caFile?: string }): Promise<string> {
    return this.d.imageOps.login(registry, login);
  }

  logout(registry: string): Promise<string> {
    return this.d.imageOps.logout(registry);
  }

  logins(): Promise<string[]> {
    return this.d.imageOps.logins();
  }

  /**
   * Removes the images no container uses: untagged ones only, or (`all`)
   * every unused one. Each tag goes through the same checks as `rmi`, so an
   * image a container starts using meanwhile is kept. Returns what rmi says.
   */
  async pruneImages(opts: { all?: boolean } = {}): Promise<string[]> {
    await Promise.all(this.ctx.cleaning.values());
    const used = new Set([...this.ctx.records.values()].map((r) => r.image.id));
    const out: string[] = [];
    for (const img of await this.d.imageOps.list()) {
      if (used.has(img.id) || (!opts.all && img.refs.length > 0)) continue;
      for (const ref of img.refs.length > 0 ? img.refs : [img.id]) {
        out.push(
          ...(await this.removeImage(ref).catch((err: unknown) => {
            // In use by now, or removed with another tag: what rmi says, not a prune failure.
            if (errorCode(err) === 'FailedPrecondition' || isNotFound(err)) return [];
            throw err;
          })),
        );
      }
    }
    return out;
  }

  // ---- agent start and stop -------------------------------------------------------

  /** Live restore (restore.ts): re-adopt running containers, report exits, apply restart policies. */
  restore(): Promise<{ running: number; exited: number }> {
    return this.restorer.restore();
  }

  async close(): Promise<void> {
    this.ctx.closed = true;
    this.health.stopAll();
    this.restarts.cancelAll();
    // Let --rm cleanups in flight finish (bounded): what they leave, restore frees on the next start.
    const pending = [...this.ctx.cleaning.values()];
    if (pending.length > 0)
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
}
