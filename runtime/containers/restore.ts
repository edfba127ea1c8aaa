import type { ExitInfo } from '../exec/types.js';
import { startOnAgentStart } from '../restart/policy.js';
import type { VolumeOps } from '../volumes/ops.js';
import type { ContainerContext } from './context.js';
import type { ExitHandler } from './exits.js';
import type { HealthWatch } from './health-watch.js';
import type { ContainerRecord } from './record.js';
import type { RestartScheduler } from './restarts.js';

/**
 * Live restore, once at agent start: load every record, ask the executor
 * what became of each container while the agent was away, re-watch the
 * running ones, report the ones that died meanwhile (with their exit code)
 * and apply restart policies.
 */
export class Restorer {
  constructor(
    private readonly ctx: ContainerContext,
    private readonly exits: ExitHandler,
    private readonly health: HealthWatch,
    private readonly restarts: RestartScheduler,
    private readonly volumes: VolumeOps,
  ) {}

  async restore(): Promise<{ running: number; exited: number }> {
    const d = this.ctx.d;
    await this.volumes.sweep();
    const recs = await this.ctx.store.loadAll();
    let running = 0;
    let exited = 0;
    for (const rec of recs) this.ctx.records.set(rec.id, rec);
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
      const found = await this.adopt(rec);
      if (found.status === 'running') {
        rec.pid = found.pid;
        this.ctx.transition(rec, 'adopt');
        live.push(rec.id);
        running++;
        this.exits.watch(rec);
        this.health.start(rec);
      } else {
        exited++;
        const exit: ExitInfo =
          found.status === 'exited'
            ? found.exit
            : { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
        if (rec.state === 'restarting') {
          // It was waiting for a restart when the agent went away: not a new death to announce.
          this.ctx.transition(rec, 'cancel-restart');
          await this.exits.afterExit(rec, exit, false);
        } else {
          await this.exits.afterExit(rec, exit, true);
        }
      }
    }
    // --rm containers whose removal an earlier agent did not finish.
    for (const rec of [...this.ctx.records.values()]) {
      if (rec.state === 'exited' && rec.config.autoRemove) {
        this.exits.forget(rec);
        this.exits.cleanInBackground(rec);
      }
    }
    // Removals an earlier agent did not finish (it died inside rm, after the record said removing):
    // finished now, as a --rm cleanup is, or the container would stay in `removing` for good.
    for (const rec of [...this.ctx.records.values()]) {
      if (rec.state !== 'removing') continue;
      this.ctx.records.delete(rec.id);
      this.ctx.publish('container.removed', rec);
      this.exits.cleanInBackground(rec);
    }
    await d.network.restore(live);
    // Every container that still exists keeps its snapshot (exited ones may start again).
    await d.snapshots.restore?.([...this.ctx.records.keys()]);
    // `always` and `unless-stopped` containers the agent finds stopped come back.
    for (const rec of this.ctx.records.values()) {
      if (
        rec.state === 'exited' &&
        !this.restarts.has(rec.id) &&
        startOnAgentStart(rec.config.restart, rec.stoppedByUser)
      ) {
        // `always` comes back at agent start even when the user stopped it (Docker's rule);
        // the timer skips user-stopped containers, so this start is no longer one.
        rec.stoppedByUser = false;
        this.restarts.schedule(rec, 0);
      }
    }
    return { running, exited };
  }

  private adopt(rec: ContainerRecord) {
    return this.ctx.d.executor.adopt(rec.id).catch((err) => {
      this.ctx.logger.warn({ err, id: rec.id }, 'adopt failed; the container is treated as gone');
      return { status: 'missing' as const };
    });
  }

  /**
   * A record saved as `starting`: running in the runtime → adopted as
   * running (its network kept); created (never started), stopped or gone →
   * its runtime and network state freed, exited (128: the start did not
   * complete, or its exit code), then the restart policy decides. True when adopted.
   */
  private async resolveStarting(rec: ContainerRecord): Promise<boolean> {
    const found = await this.adopt(rec);
    rec.starting = undefined;
    if (found.status === 'running') {
      this.ctx.logger.info(
        { id: rec.id, pid: found.pid },
        'adopted a container whose start an earlier agent did not record',
      );
      rec.pid = found.pid;
      this.ctx.transition(rec, 'adopt');
      rec.startedAt = new Date().toISOString();
      rec.finishedAt = undefined;
      rec.exitCode = undefined;
      rec.oomKilled = undefined;
      rec.signal = undefined;
      rec.health = rec.config.health ? 'starting' : 'none';
      await this.ctx.store.save(rec);
      this.exits.watch(rec);
      this.health.start(rec);
      return true;
    }
    this.ctx.logger.warn(
      { id: rec.id, runtime: found.status },
      'an earlier agent died while starting this container; cleaning it up',
    );
    const exit: ExitInfo =
      found.status === 'exited'
        ? found.exit
        : { exitCode: 128, oomKilled: false, finishedAt: new Date().toISOString() };
    // afterExit frees the runtime's state (a created one's init is killed) and the network, then
    // applies the restart policy; a container that never ran is reported as died too.
    await this.exits.afterExit(rec, exit, true);
    return false;
  }
}
