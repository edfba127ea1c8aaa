import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { backoffDelay } from '../base/backoff.js';
import {
  AlreadyExistsError,
  errorCode,
  FailedPreconditionError,
  InvalidArgumentError,
  isNotFound,
  messageOf,
  NotFoundError,
  NotImplementedError,
} from '../base/errors.js';
import type { Envelope, EventExchange, SubscribeOptions } from '../base/events.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/log.js';
import type { ExecutorPort, ExitInfo, LogPort } from '../exec/types.js';
import { HealthMonitor } from '../health/monitor.js';
import { HEALTH_OUTPUT_MAX, type NetworkProber } from '../health/types.js';
import type { ImageOps, ImagePort } from '../image/types.js';
import type { NetworkPort } from '../network/types.js';
import type { SpecPort } from '../oci/types.js';
import { DEFAULT_BACKOFF, type RestartBackoff, shouldRestart, startOnAgentStart } from '../restart/policy.js';
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
import type { SnapshotPort } from '../snapshot/types.js';
import type { ContainerDescriptor, ContainerEvent, ContainerTopic, RuntimeEvent } from '../types.js';
import { VolumeOps } from '../volumes/ops.js';
import { type ContainerRecord, generateName, isValidName, newId, RecordStore } from './record.js';

export interface ContainerManagerDeps {
  stateRoot: string;
  runDir: string;
  images: ImagePort;
  imageOps: ImageOps;
  snapshots: SnapshotPort;
  network: NetworkPort;
  spec: SpecPort;
  executor: ExecutorPort;
  logs: LogPort;
  events: EventExchange<RuntimeEvent>;
  logger: Logger;
  /** Runs a health probe of kind http/tcp against a container address; cmd probes use the executor. */
  probeNetwork?: NetworkProber;
  backoff?: RestartBackoff;
  /** Called before a stop signal is sent (drain in discovery and HAProxy); bounded by `preStopTimeoutMs`. */
  preStopHooks?: Array<(d: ContainerDescriptor) => Promise<void>>;
  preStopTimeoutMs?: number;
  /**
   * Test hook (BERTH_TEST_CRASH_AT): the agent SIGKILLs itself at this point of
   * a container start, so a test can see what the next agent makes of it.
   * Unset in production; nothing else reads it.
   */
  testCrashAt?: CrashPoint;
}

/** Where BERTH_TEST_CRASH_AT may stop a start: after the OCI runtime created the container, or started it. */
export const CRASH_POINTS = ['after-runc-create', 'after-runc-start'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/**
 * berth's container lifecycle: create → start → (health) → died → restart
 * or stay exited → remove. State is persisted per container and re-adopted
 * on agent start (`restore`). Operations on one container are serialised;
 * different containers proceed in parallel.
 */
export class ContainerManager implements Runtime {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly store: RecordStore;
  private readonly locks = new KeyedMutex();
  private readonly exitWaiters = new Map<string, Array<(r: WaitResult) => void>>();
  private readonly health = new Map<string, HealthMonitor>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly watching = new Set<string>();
  /** Attached log followers per container; --rm removal waits for them to drain. */
  private readonly holds = new Map<string, number>();
  private readonly unheldWaiters = new Map<string, Array<() => void>>();
  /**
   * Containers whose OCI runtime and network state were already released after
   * their exit; a later remove skips those steps (each costs a child process).
   */
  private readonly released = new Set<string>();
  /**
   * --rm containers that are gone for every reader (list, name, id) while their
   * host state (runtime, netns, mount, files) is still being freed, by id.
   */
  private readonly cleaning = new Map<string, Promise<void>>();
  private closed = false;
  private readonly volumeOps: VolumeOps;

  constructor(private readonly d: ContainerManagerDeps) {
    this.store = new RecordStore(join(d.stateRoot, 'containers'));
    this.volumeOps = new VolumeOps(
      d.spec.volumes,
      {
        all: () =>
          [...this.records.values()].map((r) => ({
            name: r.name,
            mounts: d.spec.volumesOf?.(r.config) ?? [],
          })),
      },
      d.logger,
    );
  }

  // ---- read side (ContainerSource) -------------------------------------------

  async list(opts: { all?: boolean } = {}): Promise<ContainerDescriptor[]> {
    return [...this.records.values()]
      .filter((r) => opts.all || r.state === 'running' || r.state === 'restarting')
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((r) => this.describe(r));
  }

  async get(idOrName: string): Promise<ContainerDescriptor> {
    return this.describe(this.find(idOrName));
  }

  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.d.events.subscribe(opts);
  }

  async inspect(idOrName: string): Promise<Record<string, unknown>> {
    const r = this.find(idOrName);
    return {
      ...this.describe(r),
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
    const r = this.find(idOrName);
    const follow =
      query.follow && (r.state === 'running' || r.state === 'restarting' || r.state === 'created');
    if (!follow) return this.d.logs.read(r.logPath, { ...query, follow: false });
    // Follow until the client goes away, or until the container exits for
    // good and the reader has drained what the monitor wrote.
    const exited = new AbortController();
    const stopWaiting = new AbortController();
    query.signal?.addEventListener('abort', () => stopWaiting.abort(), { once: true });
    void this.wait(r.id, stopWaiting.signal).then(
      () => exited.abort(),
      () => undefined,
    );
    const signals = query.signal ? [query.signal, exited.signal] : [exited.signal];
    const it = this.d.logs.read(r.logPath, { ...query, follow: true, signal: AbortSignal.any(signals) });
    return this.held(
      r.id,
      this.finally(it, () => stopWaiting.abort()),
    );
  }

  private async *finally<T>(it: AsyncIterable<T>, fn: () => void): AsyncGenerator<T> {
    try {
      yield* it;
    } finally {
      fn();
    }
  }

  private async *held<T>(id: string, it: AsyncIterable<T>): AsyncGenerator<T> {
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1);
    try {
      yield* it;
    } finally {
      const n = (this.holds.get(id) ?? 1) - 1;
      if (n <= 0) {
        this.holds.delete(id);
        for (const wake of this.unheldWaiters.get(id) ?? []) wake();
        this.unheldWaiters.delete(id);
      } else this.holds.set(id, n);
    }
  }

  /** Resolves when no attached reader follows the container's log any more, or after `maxMs`. */
  private whenUnheld(id: string, maxMs: number): Promise<void> {
    if (!this.holds.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      const list = this.unheldWaiters.get(id) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.unheldWaiters.set(id, list);
    });
  }

  // ---- lifecycle --------------------------------------------------------------

  async create(request: unknown): Promise<ContainerDescriptor> {
    if (!request || typeof request !== 'object' || Array.isArray(request)) {
      throw new InvalidArgumentError('request: must be a JSON object with at least an image', {
        field: 'request',
      });
    }
    const req = request as Record<string, unknown>;
    if (typeof req.image !== 'string' || req.image.trim() === '') {
      throw new InvalidArgumentError('image: an image reference is required', { field: 'image' });
    }
    const phases = new Phases();
    const image = await this.d.images.resolve(req.image);
    const config = await this.d.spec.validate(request, image);
    phases.mark('validate');
    const name = config.name ?? generateName((n) => this.byName(n) !== undefined);
    if (!isValidName(name)) {
      throw new InvalidArgumentError(
        `name: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters), got ${JSON.stringify(name)}`,
        { field: 'name' },
      );
    }
    const clash = this.byName(name);
    if (clash)
      throw new AlreadyExistsError(
        `name: a container named ${name} already exists (${clash.id.slice(0, 12)})`,
      );
    const id = newId();
    const rec: ContainerRecord = {
      id,
      name,
      createdAt: new Date().toISOString(),
      image: { ref: image.ref, id: image.id, name: image.name, tag: image.tag },
      config: { ...config, name },
      state: 'created',
      stoppedByUser: false,
      restartCount: 0,
      health: config.health ? 'starting' : 'none',
      healthLog: [],
      ports: config.ports,
      bundleDir: join(this.d.runDir, 'containers', id),
      logPath: join(this.d.stateRoot, 'containers', id, 'container.log'),
    };
    this.records.set(id, rec);
    try {
      const snap = await this.d.snapshots.prepare(id, image.layerDirs);
      rec.rootfs = snap.rootfs;
      phases.mark('snapshot');
      await this.store.save(rec);
      phases.mark('record');
    } catch (err) {
      this.records.delete(id);
      await this.d.snapshots.remove(id).catch(() => undefined);
      await this.store.delete(id).catch(() => undefined);
      throw err;
    }
    this.publish('container.created', rec);
    // Where a slow create spends its time, for whoever turns debug logging on.
    this.d.logger.debug({ id, ms: phases.done() }, 'create phases');
    return this.describe(rec);
  }

  async start(idOrName: string): Promise<ContainerDescriptor> {
    const rec = this.find(idOrName);
    return this.locks.run(rec.id, async () => {
      if (rec.state === 'running') return this.describe(rec);
      this.clearRestartTimer(rec.id);
      rec.stoppedByUser = false;
      await this.startLocked(rec);
      return this.describe(rec);
    });
  }

  private async startLocked(rec: ContainerRecord): Promise<void> {
    const cfg = rec.config;
    const hostname = cfg.hostname ?? rec.id.slice(0, 12);
    // Left-over OCI state from an earlier run would make create fail (a first start has none,
    // and neither has a container whose exit already released it).
    if (rec.startedAt !== undefined && !this.released.has(rec.id))
      await this.d.executor.delete(rec.id).catch(() => undefined);
    this.released.delete(rec.id);
    let attached = false;
    const phases = new Phases();
    try {
      if (!rec.rootfs)
        rec.rootfs = (
          await this.d.snapshots.prepare(rec.id, (await this.d.images.resolve(rec.image.id)).layerDirs)
        ).rootfs;
      const bundle = mkdir(rec.bundleDir, { recursive: true, mode: 0o700 });
      const attaching = this.d.network.attach(rec.id, {
        mode: cfg.network,
        hostname,
        ports: cfg.ports,
        ...(cfg.extraHosts ? { extraHosts: cfg.extraHosts } : {}),
      });
      // Settle both before deciding, so a failed mkdir never leaves an attachment unrecorded.
      const [attachedNet, bundleMade] = await Promise.allSettled([attaching, bundle]);
      if (attachedNet.status === 'rejected') throw attachedNet.reason;
      attached = true;
      if (bundleMade.status === 'rejected') throw bundleMade.reason;
      const net = attachedNet.value;
      phases.mark('network');
      rec.network = net;
      rec.ports = net.ports;
      const spec = await this.d.spec.build(cfg, {
        id: rec.id,
        rootfs: rec.rootfs,
        hostname,
        networkMode: cfg.network,
        cgroupPath: this.d.spec.cgroupPath(rec.id),
        ...(net.netnsPath ? { netnsPath: net.netnsPath } : {}),
        ...(net.hostsPath ? { hostsPath: net.hostsPath } : {}),
        ...(net.resolvConfPath ? { resolvConfPath: net.resolvConfPath } : {}),
      });
      // The spec carries the container's env (secrets often): root only, also over one an older release
      // wrote 0644 (a new file renamed over it). Rebuilt on every start: no fsync.
      await writeFileAtomic(join(rec.bundleDir, 'config.json'), JSON.stringify(spec), {
        mode: 0o600,
        sync: false,
      });
      phases.mark('spec');
      // Recorded before the runtime is asked: an agent that dies between `runc start` and the save below
      // leaves a running container that the next agent must adopt, not an orphan whose network it tears down.
      rec.starting = true;
      await this.store.save(rec);
      phases.mark('record_starting');
      const { pid } = await this.d.executor.create(rec.id, rec.bundleDir, { logPath: rec.logPath });
      phases.mark('runtime_create');
      this.crashPoint('after-runc-create');
      await this.d.executor.start(rec.id);
      phases.mark('runtime_start');
      this.crashPoint('after-runc-start');
      rec.starting = undefined;
      rec.pid = pid;
      rec.state = 'running';
      rec.startedAt = new Date().toISOString();
      rec.finishedAt = undefined;
      rec.exitCode = undefined;
      rec.oomKilled = undefined;
      rec.signal = undefined;
      rec.health = cfg.health ? 'starting' : 'none';
      await this.store.save(rec);
    } catch (err) {
      rec.starting = undefined;
      await this.d.executor.delete(rec.id).catch(() => undefined);
      if (attached) await this.d.network.detach(rec.id).catch(() => undefined);
      rec.network = undefined;
      rec.state = rec.state === 'restarting' ? 'exited' : rec.state === 'running' ? 'exited' : rec.state;
      await this.store.save(rec).catch(() => undefined);
      throw err;
    }
    this.publish('container.started', rec);
    this.watchExit(rec);
    this.startHealth(rec);
    this.d.logger.debug({ id: rec.id, ms: phases.done() }, 'start phases');
  }

  async stop(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<WaitResult> {
    const rec = this.find(idOrName);
    rec.stoppedByUser = true;
    this.clearRestartTimer(rec.id);
    if (rec.state !== 'running') {
      if (rec.state === 'restarting') {
        rec.state = 'exited';
        await this.store.save(rec);
      }
      return this.lastExit(rec);
    }
    await this.store.save(rec);
    const grace = opts.timeoutMs ?? rec.config.stopTimeoutMs;
    this.publish('container.stopping', rec, { graceMs: grace });
    await this.runPreStopHooks(rec);
    const exited = this.wait(rec.id);
    await this.d.executor.kill(rec.id, rec.config.stopSignal).catch((err) => this.ignoreGone(err));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), grace).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      this.d.logger.info({ id: rec.id, graceMs: grace }, 'stop grace period over, sending SIGKILL');
      await this.d.executor.kill(rec.id, 'SIGKILL').catch((err) => this.ignoreGone(err));
    }
    return exited;
  }

  /** stop (when running), then start: the same container, its id, config and volumes. */
  async restart(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<ContainerDescriptor> {
    const rec = this.find(idOrName);
    if (rec.config.autoRemove) {
      throw new FailedPreconditionError(
        `container ${rec.name} runs with --rm: it is removed when it stops, so it cannot be restarted`,
      );
    }
    await this.stop(rec.id, opts);
    return this.start(rec.id);
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.find(idOrName);
    if (rec.state !== 'running') {
      throw new FailedPreconditionError(`container ${rec.name} is not running (state ${rec.state})`);
    }
    if (!/^(SIG)?[A-Z0-9]+$|^\d+$/.test(signal)) {
      throw new InvalidArgumentError(
        `signal: must be a signal name like SIGTERM or a number, got ${JSON.stringify(signal)}`,
        {
          field: 'signal',
        },
      );
    }
    const sig = /^\d+$/.test(signal) || signal.startsWith('SIG') ? signal : `SIG${signal}`;
    if (sig === 'SIGKILL' || sig === '9' || sig === 'SIGTERM' || sig === '15') rec.stoppedByUser = true;
    await this.store.save(rec);
    await this.d.executor.kill(rec.id, sig);
  }

  async remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.find(idOrName);
    if (rec.state === 'running' && !opts.force) {
      throw new FailedPreconditionError(
        `container ${rec.name} is running: stop it first or remove with -f (force)`,
      );
    }
    rec.stoppedByUser = true;
    this.clearRestartTimer(rec.id);
    if (rec.state === 'running') {
      const exited = this.wait(rec.id);
      await this.d.executor.kill(rec.id, 'SIGKILL').catch((err) => this.ignoreGone(err));
      await exited;
    }
    await this.locks.run(rec.id, async () => {
      if (!this.records.has(rec.id)) return;
      rec.state = 'removing';
      this.stopHealth(rec.id);
      // Skipped when the exit already freed them (a runc delete and a detach cost a child process each).
      await this.releaseHostState(rec);
      await this.d.snapshots.remove(rec.id);
      await this.d.spec.release?.(rec.id).catch(() => undefined);
      await this.store.delete(rec.id);
      this.records.delete(rec.id);
      this.released.delete(rec.id);
      await this.dropAnonymousVolumes(rec);
      this.publish('container.removed', rec);
    });
  }

  wait(idOrName: string, signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.find(idOrName);
    if (rec.state !== 'running' && rec.state !== 'restarting' && rec.state !== 'created') {
      return Promise.resolve(this.lastExit(rec));
    }
    return new Promise((resolve, reject) => {
      const list = this.exitWaiters.get(rec.id) ?? [];
      list.push(resolve);
      this.exitWaiters.set(rec.id, list);
      signal?.addEventListener(
        'abort',
        () => {
          const l = this.exitWaiters.get(rec.id);
          if (l)
            this.exitWaiters.set(
              rec.id,
              l.filter((f) => f !== resolve),
            );
          reject(signal.reason ?? new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  async exec(idOrName: string, req: ExecRequest, io?: ExecIO): Promise<ExecResult> {
    const rec = this.find(idOrName);
    if (rec.state !== 'running') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    return this.d.executor.exec(rec.id, req, io?.signal, io);
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

  /** A removed container's anonymous volumes (`-v /path`) go with it, unless another container mounts one. */
  private async dropAnonymousVolumes(rec: ContainerRecord): Promise<void> {
    await this.volumeOps.dropAnonymous(rec.id, this.d.spec.volumesOf?.(rec.config) ?? []);
  }

  // ---- images -----------------------------------------------------------------

  images(): Promise<ImageSummary[]> {
    return this.d.imageOps.list();
  }

  async pull(
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
    await Promise.all(this.cleaning.values());
    return this.d.imageOps.remove(ref, {
      ...opts,
      inUse: (imageId) => [...this.records.values()].some((r) => r.image.id === imageId),
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
    await Promise.all(this.cleaning.values());
    const used = new Set([...this.records.values()].map((r) => r.image.id));
    const out: string[] = [];
    for (const img of await this.d.imageOps.list()) {
      if (used.has(img.id) || (!opts.all && img.refs.length > 0)) continue;
      for (const ref of img.refs.length > 0 ? img.refs : [img.id]) {
        out.push(
          ...(await this.removeImage(ref).catch((err: unknown) => {
            if (errorCode(err) === 'FailedPrecondition' || isNotFound(err)) return [];
            throw err;
          })),
        );
      }
    }
    return out;
  }

  /** Removes every container that is not running (exited, created, dead); returns their names. */
  async pruneContainers(): Promise<string[]> {
    const removed: string[] = [];
    for (const rec of [...this.records.values()]) {
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

  // ---- live restore -------------------------------------------------------------

  /**
   * Agent start: load every record, ask the executor what became of each
   * container while the agent was away, re-watch the running ones, report the
   * ones that died meanwhile (with their exit code) and apply restart policies.
   */
  async restore(): Promise<{ running: number; exited: number }> {
    await this.volumeOps.sweep();
    const recs = await this.store.loadAll();
    let running = 0;
    let exited = 0;
    for (const rec of recs) this.records.set(rec.id, rec);
    const live: string[] = [];
    for (const rec of recs) {
      if (rec.starting) {
        // The agent died inside a start: the runtime says how far it got.
        if (await this.resolveStarting(rec)) {
          live.push(rec.id);
          running++;
        } else exited++;
        continue;
      }
      if (rec.state !== 'running' && rec.state !== 'restarting') continue;
      const found = await this.d.executor.adopt(rec.id).catch((err) => {
        this.d.logger.warn({ err, id: rec.id }, 'adopt failed');
        return { status: 'missing' as const };
      });
      if (found.status === 'running') {
        rec.pid = found.pid;
        rec.state = 'running';
        live.push(rec.id);
        running++;
        this.watchExit(rec);
        this.startHealth(rec);
      } else {
        exited++;
        const exit: ExitInfo =
          found.status === 'exited'
            ? found.exit
            : { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
        if (rec.state === 'restarting') {
          // It was waiting for a restart when the agent went away.
          rec.state = 'exited';
          await this.afterExit(rec, exit, false);
        } else {
          await this.afterExit(rec, exit, true);
        }
      }
    }
    // --rm containers whose removal an earlier agent did not finish.
    for (const rec of [...this.records.values()]) {
      if (rec.state === 'exited' && rec.config.autoRemove) {
        this.forget(rec);
        this.cleanInBackground(rec);
      }
    }
    await this.d.network.restore(live);
    // Every container that still exists keeps its snapshot (exited ones may start again).
    await this.d.snapshots.restore?.([...this.records.keys()]);
    // `always` and `unless-stopped` containers the agent finds stopped come back.
    for (const rec of this.records.values()) {
      if (
        rec.state === 'exited' &&
        !this.restartTimers.has(rec.id) &&
        startOnAgentStart(rec.config.restart, rec.stoppedByUser)
      ) {
        this.scheduleRestart(rec, 0);
      }
    }
    return { running, exited };
  }

  /**
   * A record saved as `starting`: running in the runtime → adopted as
   * running (its network kept); created (never started), stopped or gone →
   * its runtime and network state freed, exited (128: the start did not
   * complete, or its exit code), then the restart policy decides. True when adopted.
   */
  private async resolveStarting(rec: ContainerRecord): Promise<boolean> {
    const found = await this.d.executor.adopt(rec.id).catch((err) => {
      this.d.logger.warn({ err, id: rec.id }, 'adopt failed');
      return { status: 'missing' as const };
    });
    rec.starting = undefined;
    if (found.status === 'running') {
      this.d.logger.info(
        { id: rec.id, pid: found.pid },
        'adopted a container whose start an earlier agent did not record',
      );
      rec.pid = found.pid;
      rec.state = 'running';
      rec.startedAt = new Date().toISOString();
      rec.finishedAt = undefined;
      rec.exitCode = undefined;
      rec.oomKilled = undefined;
      rec.signal = undefined;
      rec.health = rec.config.health ? 'starting' : 'none';
      await this.store.save(rec);
      this.watchExit(rec);
      this.startHealth(rec);
      return true;
    }
    this.d.logger.warn(
      { id: rec.id, runtime: found.status },
      'an earlier agent died while starting this container; cleaning it up',
    );
    const exit: ExitInfo =
      found.status === 'exited'
        ? found.exit
        : { exitCode: 128, oomKilled: false, finishedAt: new Date().toISOString() };
    // afterExit frees the runtime's state (a created one's init is killed) and the network, then
    // applies the restart policy; a container that never ran is reported as died too.
    await this.afterExit(rec, exit, true);
    return false;
  }

  /** The BERTH_TEST_CRASH_AT hook: SIGKILL at this point when a test asked for it. */
  private crashPoint(at: CrashPoint): void {
    if (this.d.testCrashAt !== at) return;
    // Synchronous on pipes and files, so the line is out before the kill.
    process.stderr.write(`BERTH_TEST_CRASH_AT=${at}: the agent kills itself here (a test hook)\n`);
    process.kill(process.pid, 'SIGKILL');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.health.keys()]) this.stopHealth(id);
    for (const id of [...this.restartTimers.keys()]) this.clearRestartTimer(id);
    // Let --rm cleanups in flight finish (bounded): what they leave, restore frees on the next start.
    const pending = [...this.cleaning.values()];
    if (pending.length > 0)
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  // ---- internals ------------------------------------------------------------------

  private watchExit(rec: ContainerRecord): void {
    if (this.watching.has(rec.id)) return;
    this.watching.add(rec.id);
    this.d.executor.wait(rec.id).then(
      (exit) => {
        this.watching.delete(rec.id);
        if (this.closed) return;
        void this.locks
          .run(rec.id, () => this.afterExit(rec, exit, true))
          .catch((err) => this.d.logger.error({ err, id: rec.id }, 'handling container exit failed'));
      },
      (err) => {
        this.watching.delete(rec.id);
        this.d.logger.error({ err, id: rec.id }, 'waiting for container exit failed');
      },
    );
  }

  private async afterExit(rec: ContainerRecord, exit: ExitInfo, publish: boolean): Promise<void> {
    if (!this.records.has(rec.id)) return;
    this.d.logger.debug(
      { id: rec.id, exitCode: exit.exitCode, finishedAt: exit.finishedAt },
      'container exited',
    );
    this.stopHealth(rec.id);
    rec.state = 'exited';
    rec.pid = undefined;
    rec.exitCode = exit.exitCode;
    rec.oomKilled = exit.oomKilled;
    rec.signal = exit.signal;
    rec.finishedAt = exit.finishedAt;
    if (rec.health !== 'none') rec.health = 'unhealthy';
    if (publish) {
      this.publish('container.died', rec, {
        exitCode: exit.exitCode,
        ...(exit.signal ? { signal: exit.signal } : {}),
      });
    }
    if (rec.config.autoRemove) {
      // --rm: gone for every reader before `wait` answers, so `run --rm` returns at once and a `ps -a`
      // right after does not show it; the host state is freed in the background.
      this.forget(rec);
      this.wake(rec);
      this.cleanInBackground(rec);
      return;
    }
    // Waiters learn the exit now; a start or remove that follows queues behind this lock anyway.
    this.wake(rec);
    await this.releaseHostState(rec);
    rec.network = undefined;
    await this.store.save(rec);
    const started = rec.startedAt ? Date.parse(rec.startedAt) : 0;
    const ranLong = Date.parse(exit.finishedAt) - started > (this.d.backoff ?? DEFAULT_BACKOFF).resetAfterMs;
    if (ranLong) rec.restartCount = 0;
    if (
      shouldRestart(rec.config.restart, {
        exitCode: exit.exitCode,
        stoppedByUser: rec.stoppedByUser,
        restartCount: rec.restartCount,
      })
    ) {
      this.scheduleRestart(rec, backoffDelay(rec.restartCount, this.d.backoff ?? DEFAULT_BACKOFF));
    }
  }

  /** Resolves everyone waiting for this container's exit. */
  private wake(rec: ContainerRecord): void {
    const waiters = this.exitWaiters.get(rec.id) ?? [];
    this.exitWaiters.delete(rec.id);
    const result = this.lastExit(rec);
    for (const w of waiters) w(result);
  }

  /** Frees the OCI runtime's and the network's state of an exited container; remembers success. */
  private async releaseHostState(rec: ContainerRecord): Promise<void> {
    if (this.released.has(rec.id)) return;
    // Independent: the runtime's state dir and cgroups, and the container's netns and files.
    const [executorOk, networkOk] = await Promise.all([
      this.d.executor.delete(rec.id).then(
        () => true,
        (err) => {
          this.d.logger.warn({ err, id: rec.id }, 'executor delete failed');
          return false;
        },
      ),
      this.d.network.detach(rec.id).then(
        () => true,
        (err) => {
          this.d.logger.warn({ err, id: rec.id }, 'network detach failed');
          return false;
        },
      ),
    ]);
    if (executorOk && networkOk) this.released.add(rec.id);
  }

  /** Takes a container out of every read path (list, find by name or id) and announces its removal. */
  private forget(rec: ContainerRecord): void {
    rec.state = 'removing';
    this.stopHealth(rec.id);
    this.clearRestartTimer(rec.id);
    this.records.delete(rec.id);
    this.publish('container.removed', rec);
  }

  /**
   * Frees what a forgotten --rm container held on the host. The record file
   * goes last: an agent that dies meanwhile finds it on restart and removes
   * the container again (restore), so nothing leaks.
   */
  private cleanInBackground(rec: ContainerRecord): void {
    const done = (async () => {
      // Attached readers get the last lines from the log file, which lives beside the record. Then
      // one turn of the loop, so the reply they are part of goes out before the first spawn below
      // (a fork of the agent blocks its event loop for milliseconds).
      await this.whenUnheld(rec.id, 5000);
      await new Promise((r) => setImmediate(r));
      await this.releaseHostState(rec);
      await this.d.snapshots
        .remove(rec.id)
        .catch((err) => this.d.logger.warn({ err, id: rec.id }, 'snapshot remove failed'));
      await this.d.spec.release?.(rec.id).catch(() => undefined);
      await this.store.delete(rec.id);
      await this.dropAnonymousVolumes(rec);
    })()
      .catch((err) => this.d.logger.warn({ err, id: rec.id }, 'cleanup of a removed container failed'))
      .finally(() => {
        this.released.delete(rec.id);
        this.cleaning.delete(rec.id);
      });
    this.cleaning.set(rec.id, done);
  }

  private scheduleRestart(rec: ContainerRecord, delayMs: number): void {
    rec.state = 'restarting';
    void this.store.save(rec).catch(() => undefined);
    const t = setTimeout(() => {
      this.restartTimers.delete(rec.id);
      if (this.closed || !this.records.has(rec.id) || rec.stoppedByUser) return;
      void this.locks.run(rec.id, async () => {
        if (rec.state !== 'restarting') return;
        rec.restartCount++;
        try {
          await this.startLocked(rec);
        } catch (err) {
          this.d.logger.warn({ err, id: rec.id }, 'restart failed');
          await this.afterExit(
            rec,
            { exitCode: 128, oomKilled: false, finishedAt: new Date().toISOString() },
            true,
          );
        }
      });
    }, delayMs);
    t.unref();
    this.restartTimers.set(rec.id, t);
  }

  private clearRestartTimer(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  private startHealth(rec: ContainerRecord): void {
    const hc = rec.config.health;
    if (!hc) return;
    this.stopHealth(rec.id);
    const mon = new HealthMonitor(
      hc,
      async (probe, signal) => {
        if (probe.kind === 'cmd') {
          // Only what the health log keeps is collected; the rest of a chatty command's output is dropped.
          const r = await this.d.executor.exec(
            rec.id,
            { cmd: probe.argv, outputLimit: HEALTH_OUTPUT_MAX },
            signal,
          );
          return { ok: r.exitCode === 0, output: (r.stdout + r.stderr).trim() };
        }
        const host = Object.values(rec.network?.addresses ?? {})[0] ?? '127.0.0.1';
        if (!this.d.probeNetwork) throw new NotImplementedError('network health probes are not wired');
        return this.d.probeNetwork(
          probe.kind === 'http'
            ? { kind: 'http', url: probe.url, host }
            : { kind: 'tcp', port: probe.port, host },
          signal,
        );
      },
      (status, state) => {
        rec.health = status;
        rec.healthLog = state.log;
        void this.store.save(rec).catch(() => undefined);
        if (status === 'healthy') this.publish('container.healthy', rec);
        if (status === 'unhealthy') this.publish('container.unhealthy', rec);
      },
    );
    this.health.set(rec.id, mon);
    mon.start();
  }

  private stopHealth(id: string): void {
    this.health.get(id)?.stop();
    this.health.delete(id);
  }

  private async runPreStopHooks(rec: ContainerRecord): Promise<void> {
    const hooks = this.d.preStopHooks ?? [];
    if (hooks.length === 0) return;
    const d = this.describe(rec);
    const limit = this.d.preStopTimeoutMs ?? 10_000;
    const all = Promise.allSettled(hooks.map((h) => h(d)));
    await Promise.race([all, new Promise((r) => setTimeout(r, limit).unref())]);
  }

  private lastExit(rec: ContainerRecord): WaitResult {
    return {
      exitCode: rec.exitCode ?? 0,
      oomKilled: rec.oomKilled ?? false,
      ...(rec.signal ? { signal: rec.signal } : {}),
    };
  }

  private ignoreGone(err: unknown): void {
    // The container may exit between our check and the signal; that is fine.
    this.d.logger.debug({ err: messageOf(err) }, 'signal to an exiting container');
  }

  private byName(name: string): ContainerRecord | undefined {
    for (const r of this.records.values()) if (r.name === name) return r;
    return undefined;
  }

  /** By full id, name, or unique id prefix (as Docker resolves them). */
  private find(idOrName: string): ContainerRecord {
    const key = idOrName.replace(/^\//, '');
    const exact = this.records.get(key) ?? this.byName(key);
    if (exact) return exact;
    if (/^[0-9a-f]{1,64}$/.test(key)) {
      const matches = [...this.records.values()].filter((r) => r.id.startsWith(key));
      if (matches.length === 1 && matches[0]) return matches[0];
      if (matches.length > 1)
        throw new InvalidArgumentError(`container: id prefix ${key} is ambiguous`, { field: 'container' });
    }
    throw new NotFoundError(`no such container: ${idOrName}`);
  }

  private publish(topic: ContainerTopic, rec: ContainerRecord, extra: Partial<ContainerEvent> = {}): void {
    this.d.events.publish(topic, { container: this.describe(rec), ...extra });
  }

  describe(rec: ContainerRecord): ContainerDescriptor {
    const env: Record<string, string> = {};
    for (const kv of rec.config.env) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return {
      id: rec.id,
      name: rec.name,
      image: rec.image.ref,
      imageName: rec.image.name,
      imageTag: rec.image.tag,
      imageId: rec.image.id,
      labels: rec.config.labels,
      env,
      state: rec.state,
      ports: rec.ports,
      addresses: rec.network?.addresses ?? {},
      networkMode: rec.config.network,
      ...(rec.pid ? { pid: rec.pid } : {}),
      cgroupPath: this.d.spec.cgroupPath(rec.id),
      ...(rec.network?.netnsPath ? { netnsPath: rec.network.netnsPath } : {}),
      logPath: rec.logPath,
      health: rec.health,
      createdAt: rec.createdAt,
      ...(rec.startedAt ? { startedAt: rec.startedAt } : {}),
      ...(rec.finishedAt ? { finishedAt: rec.finishedAt } : {}),
      ...(rec.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
      ...(rec.oomKilled ? { oomKilled: true } : {}),
      restartCount: rec.restartCount,
      source: 'berth',
    };
  }
}

/** Milliseconds spent in each named phase of an operation, for debug logs. */
class Phases {
  private last = performance.now();
  private readonly ms: Record<string, number> = {};

  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }

  done(): Record<string, number> {
    return this.ms;
  }
}
