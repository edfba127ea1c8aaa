import { NotImplementedError } from '../base/errors.js';
import { HealthMonitor } from '../health/monitor.js';
import { HEALTH_OUTPUT_MAX } from '../health/types.js';
import type { ContainerContext } from './context.js';
import type { ContainerRecord } from './record.js';

/**
 * One HealthMonitor per running container that has a check: started when it
 * starts (or is adopted), stopped at its exit or removal. Status changes are
 * saved and published (`container.healthy` / `container.unhealthy`).
 */
export class HealthWatch {
  private readonly monitors = new Map<string, HealthMonitor>();

  constructor(private readonly ctx: ContainerContext) {}

  start(rec: ContainerRecord): void {
    const hc = rec.config.health;
    if (!hc) return;
    this.stop(rec.id);
    const d = this.ctx.d;
    const mon = new HealthMonitor(
      hc,
      async (probe, signal) => {
        if (probe.kind === 'cmd') {
          // Only what the health log keeps is collected; the rest of a chatty command's output is dropped.
          const r = await d.executor.exec(
            rec.id,
            { cmd: probe.argv, outputLimit: HEALTH_OUTPUT_MAX },
            signal,
          );
          return { ok: r.exitCode === 0, output: (r.stdout + r.stderr).trim() };
        }
        const host = Object.values(rec.network?.addresses ?? {})[0] ?? '127.0.0.1';
        if (!d.probeNetwork) throw new NotImplementedError('network health probes are not wired');
        return d.probeNetwork(
          probe.kind === 'http'
            ? { kind: 'http', url: probe.url, host }
            : { kind: 'tcp', port: probe.port, host },
          signal,
        );
      },
      (status, state) => {
        rec.health = status;
        rec.healthLog = state.log;
        void this.ctx.store
          .save(rec)
          .catch((err) =>
            d.logger.warn(
              { err, id: rec.id },
              'saving health status failed; the next save or a restart repeats it',
            ),
          );
        if (status === 'healthy') this.ctx.publish('container.healthy', rec);
        if (status === 'unhealthy') this.ctx.publish('container.unhealthy', rec);
      },
    );
    this.monitors.set(rec.id, mon);
    mon.start();
  }

  stop(id: string): void {
    this.monitors.get(id)?.stop();
    this.monitors.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.monitors.keys()]) this.stop(id);
  }
}
