import { backoffDelay } from '../base/backoff.js';
import type { ExitInfo } from '../exec/types.js';
import { DEFAULT_BACKOFF, shouldRestart } from '../restart/policy.js';
import type { WaitResult } from '../runtime.js';
import type { VolumeOps } from '../volumes/ops.js';
import type { ContainerContext } from './context.js';
import type { HealthWatch } from './health-watch.js';
import type { LogFollow } from './log-follow.js';
import type { ContainerRecord } from './record.js';
import type { RestartScheduler } from './restarts.js';

/**
 * What happens when a container's init exits: the exit is recorded, `wait`ers
 * are answered, the OCI runtime's and the network's state are freed, and the
 * restart policy decides. A --rm container instead leaves every read path at
 * once and is cleaned up in the background (see README, "Exit and removal").
 */
export class ExitHandler {
  private readonly waiters = new Map<string, Array<(r: WaitResult) => void>>();
  private readonly watching = new Set<string>();

  constructor(
    private readonly ctx: ContainerContext,
    private readonly health: HealthWatch,
    private readonly restarts: RestartScheduler,
    private readonly follow: LogFollow,
    private readonly volumes: VolumeOps,
  ) {}

  /** Resolves with the container's exit; at once when it is not running (or about to). */
  wait(idOrName: string, signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.ctx.find(idOrName);
    if (rec.state !== 'running' && rec.state !== 'restarting' && rec.state !== 'created') {
      return Promise.resolve(lastExit(rec));
    }
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(rec.id) ?? [];
      list.push(resolve);
      this.waiters.set(rec.id, list);
      signal?.addEventListener(
        'abort',
        () => {
          const l = this.waiters.get(rec.id);
          if (l)
            this.waiters.set(
              rec.id,
              l.filter((f) => f !== resolve),
            );
          reject(signal.reason ?? new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  /** Follows the executor's wait for this container (once) and handles its exit under its lock. */
  watch(rec: ContainerRecord): void {
    if (this.watching.has(rec.id)) return;
    this.watching.add(rec.id);
    this.ctx.d.executor.wait(rec.id).then(
      (exit) => {
        this.watching.delete(rec.id);
        if (this.ctx.closed) return;
        void this.ctx
          .locked(rec.id, () => this.afterExit(rec, exit, true))
          .catch((err) => this.ctx.logger.error({ err, id: rec.id }, 'handling container exit failed'));
      },
      (err) => {
        this.watching.delete(rec.id);
        this.ctx.logger.error({ err, id: rec.id }, 'waiting for container exit failed');
      },
    );
  }

  /** Records an exit (under the container's lock); `publish`: announce `container.died`. */
  async afterExit(rec: ContainerRecord, exit: ExitInfo, publish: boolean): Promise<void> {
    if (!this.ctx.records.has(rec.id)) return;
    const d = this.ctx.d;
    d.logger.debug({ id: rec.id, exitCode: exit.exitCode, finishedAt: exit.finishedAt }, 'container exited');
    this.health.stop(rec.id);
    this.ctx.transition(rec, 'exit');
    rec.pid = undefined;
    rec.exitCode = exit.exitCode;
    rec.oomKilled = exit.oomKilled;
    rec.signal = exit.signal;
    rec.finishedAt = exit.finishedAt;
    if (rec.health !== 'none') rec.health = 'unhealthy';
    if (publish) {
      this.ctx.publish('container.died', rec, {
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
    await this.ctx.store.save(rec);
    const backoff = d.backoff ?? DEFAULT_BACKOFF;
    const started = rec.startedAt ? Date.parse(rec.startedAt) : 0;
    const ranLong = Date.parse(exit.finishedAt) - started > backoff.resetAfterMs;
    if (ranLong) rec.restartCount = 0;
    if (
      shouldRestart(rec.config.restart, {
        exitCode: exit.exitCode,
        stoppedByUser: rec.stoppedByUser,
        restartCount: rec.restartCount,
      })
    ) {
      this.restarts.schedule(rec, backoffDelay(rec.restartCount, backoff));
    }
  }

  /** Resolves everyone waiting for this container's exit. */
  private wake(rec: ContainerRecord): void {
    const waiters = this.waiters.get(rec.id) ?? [];
    this.waiters.delete(rec.id);
    const result = lastExit(rec);
    for (const w of waiters) w(result);
  }

  /** Frees the OCI runtime's and the network's state of an exited container; remembers success. */
  async releaseHostState(rec: ContainerRecord): Promise<void> {
    if (this.ctx.released.has(rec.id)) return;
    const d = this.ctx.d;
    // Independent: the runtime's state dir and cgroups, and the container's netns and files.
    const [executorOk, networkOk] = await Promise.all([
      d.executor.delete(rec.id).then(
        () => true,
        (err) => {
          d.logger.warn({ err, id: rec.id }, 'executor delete failed');
          return false;
        },
      ),
      d.network.detach(rec.id).then(
        () => true,
        (err) => {
          d.logger.warn({ err, id: rec.id }, 'network detach failed');
          return false;
        },
      ),
    ]);
    if (executorOk && networkOk) this.ctx.released.add(rec.id);
  }

  /** Takes a container out of every read path (list, find by name or id) and announces its removal. */
  forget(rec: ContainerRecord): void {
    this.ctx.transition(rec, 'remove');
    this.health.stop(rec.id);
    this.restarts.cancel(rec.id);
    this.ctx.records.delete(rec.id);
    this.ctx.publish('container.removed', rec);
  }

  /**
   * Frees what a forgotten --rm container held on the host. The record file
   * goes last: an agent that dies meanwhile finds it on restart and removes
   * the container again (restore), so nothing leaks.
   */
  cleanInBackground(rec: ContainerRecord): void {
    const d = this.ctx.d;
    const done = (async () => {
      // Attached readers get the last lines from the log file, which lives beside the record. Then
      // one turn of the loop, so the reply they are part of goes out before the first spawn below
      // (a fork of the agent blocks its event loop for milliseconds).
      await this.follow.whenUnheld(rec.id, 5000);
      await new Promise((r) => setImmediate(r));
      await this.releaseHostState(rec);
      await d.snapshots
        .remove(rec.id)
        .catch((err) => d.logger.warn({ err, id: rec.id }, 'snapshot remove failed'));
      await d.spec
        .release?.(rec.id)
        .catch((err) => d.logger.warn({ err, id: rec.id }, 'spec files release failed; they stay behind'));
      await this.ctx.store.delete(rec.id);
      await this.volumes.dropAnonymous(rec.id, d.spec.volumesOf?.(rec.config) ?? []);
    })()
      .catch((err) => d.logger.warn({ err, id: rec.id }, 'cleanup of a removed container failed'))
      .finally(() => {
        this.ctx.released.delete(rec.id);
        this.ctx.cleaning.delete(rec.id);
      });
    this.ctx.cleaning.set(rec.id, done);
  }
}

/** The exit a container last recorded (0 for one that never ran). */
export function lastExit(rec: ContainerRecord): WaitResult {
  return {
    exitCode: rec.exitCode ?? 0,
    oomKilled: rec.oomKilled ?? false,
    ...(rec.signal ? { signal: rec.signal } : {}),
  };
}
