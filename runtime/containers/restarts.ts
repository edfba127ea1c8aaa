import type { ContainerContext } from './context.js';
import type { ContainerRecord } from './record.js';

/**
 * The restart timers: a container the restart policy brings back waits in
 * `restarting` for its backoff delay, then `restartNow` runs under its lock.
 * stop, rm and start cancel a pending restart; close cancels them all.
 */
export class RestartScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly ctx: ContainerContext,
    /** Starts the container again (under its lock); wired by the manager to the lifecycle's start. */
    private readonly restartNow: (rec: ContainerRecord) => Promise<void>,
  ) {}

  schedule(rec: ContainerRecord, delayMs: number): void {
    this.ctx.transition(rec, 'schedule-restart');
    void this.ctx.store
      .save(rec)
      .catch((err) =>
        this.ctx.logger.warn(
          { err, id: rec.id },
          'saving the restarting state failed; live restore treats the container as exited and applies its policy',
        ),
      );
    const t = setTimeout(() => {
      this.timers.delete(rec.id);
      if (this.ctx.closed || !this.ctx.records.has(rec.id) || rec.stoppedByUser) return;
      void this.ctx
        .locked(rec.id, async () => {
          if (rec.state !== 'restarting') return;
          await this.restartNow(rec);
        })
        .catch((err) => this.ctx.logger.error({ err, id: rec.id }, 'restart handling failed'));
    }, delayMs);
    t.unref();
    this.timers.set(rec.id, t);
  }

  has(id: string): boolean {
    return this.timers.has(id);
  }

  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  cancelAll(): void {
    for (const id of [...this.timers.keys()]) this.cancel(id);
  }
}
