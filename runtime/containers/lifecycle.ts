import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError } from '../base/errors.js';
import type { ExecIO, ExecRequest, ExecResult, WaitResult } from '../runtime.js';
import type { ContainerDescriptor } from '../types.js';
import type { VolumeOps } from '../volumes/ops.js';
import { type ContainerContext, type CrashPoint, Phases } from './context.js';
import { type ExitHandler, lastExit } from './exits.js';
import type { HealthWatch } from './health-watch.js';
import { type ContainerRecord, generateName, isValidName, newId } from './record.js';
import type { RestartScheduler } from './restarts.js';
import { assertTransition } from './state.js';

/**
 * The user's verbs on one container: create → start → stop/kill → rm, and
 * exec. Each state change goes through the state machine (state.ts); a
 * start or remove runs under the container's lock.
 */
export class Lifecycle {
  constructor(
    private readonly ctx: ContainerContext,
    private readonly exits: ExitHandler,
    private readonly health: HealthWatch,
    private readonly restarts: RestartScheduler,
    private readonly volumes: VolumeOps,
  ) {}

  async create(request: unknown): Promise<ContainerDescriptor> {
    const d = this.ctx.d;
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
    const image = await d.images.resolve(req.image);
    const config = await d.spec.validate(request, image);
    phases.mark('validate');
    const name = config.name ?? generateName((n) => this.ctx.byName(n) !== undefined);
    if (!isValidName(name)) {
      throw new InvalidArgumentError(
        `name: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters), got ${JSON.stringify(name)}`,
        { field: 'name' },
      );
    }
    const clash = this.ctx.byName(name);
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
      bundleDir: join(d.runDir, 'containers', id),
      logPath: join(d.stateRoot, 'containers', id, 'container.log'),
    };
    this.ctx.records.set(id, rec);
    try {
      const snap = await d.snapshots.prepare(id, image.layerDirs);
      rec.rootfs = snap.rootfs;
      phases.mark('snapshot');
      await this.ctx.store.save(rec);
      phases.mark('record');
    } catch (err) {
      this.ctx.records.delete(id);
      await d.snapshots
        .remove(id)
        .catch((e) =>
          d.logger.warn({ err: e, id }, 'snapshot of a failed create not removed; restore frees it'),
        );
      await this.ctx.store
        .delete(id)
        .catch((e) => d.logger.warn({ err: e, id }, 'record dir of a failed create not removed'));
      throw err;
    }
    this.ctx.publish('container.created', rec);
    // Where a slow create spends its time, for whoever turns debug logging on.
    d.logger.debug({ id, ms: phases.done() }, 'create phases');
    return this.ctx.describe(rec);
  }

  async start(idOrName: string): Promise<ContainerDescriptor> {
    const rec = this.ctx.find(idOrName);
    return this.ctx.locked(rec.id, async () => {
      if (rec.state === 'running') return this.ctx.describe(rec);
      this.restarts.cancel(rec.id);
      rec.stoppedByUser = false;
      await this.startLocked(rec);
      return this.ctx.describe(rec);
    });
  }

  /** A scheduled restart is due (under the lock, state restarting): start again, or record a failed start as an exit. */
  async restartNow(rec: ContainerRecord): Promise<void> {
    rec.restartCount++;
    try {
      await this.startLocked(rec);
    } catch (err) {
      this.ctx.logger.warn({ err, id: rec.id }, 'restart failed');
      await this.exits.afterExit(
        rec,
        { exitCode: 128, oomKilled: false, finishedAt: new Date().toISOString() },
        true,
      );
    }
  }

  private async startLocked(rec: ContainerRecord): Promise<void> {
    const d = this.ctx.d;
    // A container being removed (or in a state with no start) is refused before anything is set up.
    assertTransition(rec, 'start', d.logger);
    const cfg = rec.config;
    const hostname = cfg.hostname ?? rec.id.slice(0, 12);
    // Left-over OCI state from an earlier run would make create fail (a first start has none,
    // and neither has a container whose exit already released it).
    if (rec.startedAt !== undefined && !this.ctx.released.has(rec.id))
      await d.executor
        .delete(rec.id)
        .catch((err) =>
          d.logger.debug({ err, id: rec.id }, 'no left-over runtime state to delete (or already gone)'),
        );
    this.ctx.released.delete(rec.id);
    let attached = false;
    const phases = new Phases();
    try {
      if (!rec.rootfs)
        rec.rootfs = (
          await d.snapshots.prepare(rec.id, (await d.images.resolve(rec.image.id)).layerDirs)
        ).rootfs;
      const bundle = mkdir(rec.bundleDir, { recursive: true, mode: 0o700 });
      const attaching = d.network.attach(rec.id, {
        mode: cfg.network,
        hostname,
        ports: cfg.ports,
        ...(cfg.extraHosts ? { extraHosts: cfg.extraHosts } : {}),
        ...(cfg.networks ? { networks: cfg.networks } : {}),
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
      const spec = await d.spec.build(cfg, {
        id: rec.id,
        rootfs: rec.rootfs,
        hostname,
        networkMode: cfg.network,
        cgroupPath: d.spec.cgroupPath(rec.id),
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
      await this.ctx.store.save(rec);
      phases.mark('record_starting');
      const { pid } = await d.executor.create(rec.id, rec.bundleDir, { logPath: rec.logPath });
      phases.mark('runtime_create');
      this.crashPoint('after-runc-create');
      await d.executor.start(rec.id);
      phases.mark('runtime_start');
      this.crashPoint('after-runc-start');
      rec.starting = undefined;
      rec.pid = pid;
      this.ctx.transition(rec, 'start');
      rec.startedAt = new Date().toISOString();
      rec.finishedAt = undefined;
      rec.exitCode = undefined;
      rec.oomKilled = undefined;
      rec.signal = undefined;
      rec.health = cfg.health ? 'starting' : 'none';
      await this.ctx.store.save(rec);
    } catch (err) {
      rec.starting = undefined;
      await d.executor
        .delete(rec.id)
        .catch((e) => d.logger.warn({ err: e, id: rec.id }, 'runtime state of a failed start not deleted'));
      if (attached)
        await d.network
          .detach(rec.id)
          .catch((e) => d.logger.warn({ err: e, id: rec.id }, 'network of a failed start not detached'));
      rec.network = undefined;
      this.ctx.transition(rec, 'start-failed');
      await this.ctx.store
        .save(rec)
        .catch((e) => d.logger.warn({ err: e, id: rec.id }, 'record of a failed start not saved'));
      throw err;
    }
    this.ctx.publish('container.started', rec);
    this.exits.watch(rec);
    this.health.start(rec);
    d.logger.debug({ id: rec.id, ms: phases.done() }, 'start phases');
  }

  async stop(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<WaitResult> {
    const d = this.ctx.d;
    const rec = this.ctx.find(idOrName);
    rec.stoppedByUser = true;
    this.restarts.cancel(rec.id);
    if (rec.state !== 'running') {
      if (rec.state === 'restarting') {
        this.ctx.transition(rec, 'cancel-restart');
        await this.ctx.store.save(rec);
      }
      return lastExit(rec);
    }
    await this.ctx.store.save(rec);
    const grace = opts.timeoutMs ?? rec.config.stopTimeoutMs;
    this.ctx.publish('container.stopping', rec, { graceMs: grace });
    await this.runPreStopHooks(rec);
    const exited = this.exits.wait(rec.id);
    await d.executor.kill(rec.id, rec.config.stopSignal).catch((err) => this.ignoreGone(err));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), grace).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      d.logger.info({ id: rec.id, graceMs: grace }, 'stop grace period over, sending SIGKILL');
      await d.executor.kill(rec.id, 'SIGKILL').catch((err) => this.ignoreGone(err));
    }
    return exited;
  }

  /** stop (when running), then start: the same container, its id, config and volumes. */
  async restart(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<ContainerDescriptor> {
    const rec = this.ctx.find(idOrName);
    if (rec.config.autoRemove) {
      throw new FailedPreconditionError(
        `container ${rec.name} runs with --rm: it is removed when it stops, so it cannot be restarted`,
      );
    }
    await this.stop(rec.id, opts);
    return this.start(rec.id);
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.ctx.find(idOrName);
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
    await this.ctx.store.save(rec);
    await this.ctx.d.executor.kill(rec.id, sig);
  }

  async remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    const d = this.ctx.d;
    const rec = this.ctx.find(idOrName);
    if (rec.state === 'running' && !opts.force) {
      throw new FailedPreconditionError(
        `container ${rec.name} is running: stop it first or remove with -f (force)`,
      );
    }
    rec.stoppedByUser = true;
    this.restarts.cancel(rec.id);
    if (rec.state === 'running') {
      const exited = this.exits.wait(rec.id);
      await d.executor.kill(rec.id, 'SIGKILL').catch((err) => this.ignoreGone(err));
      await exited;
    }
    await this.ctx.locked(rec.id, async () => {
      if (!this.ctx.records.has(rec.id)) return;
      this.ctx.transition(rec, 'remove');
      this.health.stop(rec.id);
      // Skipped when the exit already freed them (a runc delete and a detach cost a child process each).
      await this.exits.releaseHostState(rec);
      await d.snapshots.remove(rec.id);
      await d.spec
        .release?.(rec.id)
        .catch((err) => d.logger.warn({ err, id: rec.id }, 'spec files release failed; they stay behind'));
      await this.ctx.store.delete(rec.id);
      this.ctx.records.delete(rec.id);
      this.ctx.released.delete(rec.id);
      await this.volumes.dropAnonymous(rec.id, d.spec.volumesOf?.(rec.config) ?? []);
      this.ctx.publish('container.removed', rec);
    });
  }

  async exec(idOrName: string, req: ExecRequest, io?: ExecIO): Promise<ExecResult> {
    const rec = this.ctx.find(idOrName);
    if (rec.state !== 'running') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    return this.ctx.d.executor.exec(rec.id, req, io?.signal, io);
  }

  /** The BERTH_TEST_CRASH_AT hook: SIGKILL at this point when a test asked for it. */
  private crashPoint(at: CrashPoint): void {
    if (this.ctx.d.testCrashAt !== at) return;
    // Synchronous on pipes and files, so the line is out before the kill.
    process.stderr.write(`BERTH_TEST_CRASH_AT=${at}: the agent kills itself here (a test hook)\n`);
    process.kill(process.pid, 'SIGKILL');
  }

  private async runPreStopHooks(rec: ContainerRecord): Promise<void> {
    const hooks = this.ctx.d.preStopHooks ?? [];
    if (hooks.length === 0) return;
    const desc = this.ctx.describe(rec);
    const limit = this.ctx.d.preStopTimeoutMs ?? 10_000;
    const all = Promise.allSettled(hooks.map((h) => h(desc)));
    await Promise.race([all, new Promise((r) => setTimeout(r, limit).unref())]);
  }

  private ignoreGone(err: unknown): void {
    // The container may exit between our check and the signal; that is fine.
    this.ctx.logger.debug({ err }, 'signal to an exiting container');
  }
}
