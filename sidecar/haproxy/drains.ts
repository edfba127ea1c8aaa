import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ContainerDescriptor } from '../../runtime/types.js';
import type { HaproxyMetrics } from './metrics.js';
import { backendName, finishDrain, type LbState, type SlotState } from './slots.js';
import type { PreStopResult, RuntimeCommands } from './types.js';

const DRAIN_POLL_MS = 100;

/**
 * The draining side of the HAProxy manager: a stopping container's servers
 * go to drain before its stop signal (`preStop`), and servers whose instance
 * left the catalog (`removing` slots) are freed once their sessions end or
 * `drainTimeoutMs` passes. Works on the manager's slot state, on its queue.
 */
export class Drains {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly d: {
      state: () => LbState;
      runtime: RuntimeCommands;
      metrics: HaproxyMetrics;
      now: () => number;
      drainTimeoutMs: number;
      /** Runs `fn` on the manager's apply queue. */
      enqueue<T>(fn: () => Promise<T>): Promise<T>;
      logger: Logger;
      /** Slots changed state: the manager updates its gauges. */
      changed(): void;
      /** Slots were freed: gauges, and the empty-service expiry may be due. */
      freed(): void;
    },
  ) {}

  /** Slots waiting for their sessions to end before they are freed. */
  removing(): { service: string; slot: SlotState }[] {
    const out: { service: string; slot: SlotState }[] = [];
    for (const [service, be] of this.d.state())
      for (const slot of be.slots) if (slot.removing) out.push({ service, slot });
    return out;
  }

  /** Polls the sessions of removing slots until none is left (called after every commit). */
  schedule(): void {
    if (this.closed || this.timer !== undefined || this.removing().length === 0) return;
    this.timer = setTimeout(() => {
      void this.d
        .enqueue(() => this.check())
        .catch((err: unknown) => this.d.logger.warn({ err }, 'haproxy drain check failed'))
        .finally(() => {
          this.timer = undefined;
          this.schedule();
        });
    }, DRAIN_POLL_MS);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Frees removing slots whose sessions ended (or whose drain timed out). */
  private async check(): Promise<void> {
    const removing = this.removing();
    if (removing.length === 0 || this.closed) return;
    const sessions = await this.d.runtime.sessions();
    const now = this.d.now();
    const cmds: string[] = [];
    const state = this.d.state();
    for (const { service, slot } of removing) {
      const scur = sessions.get(`${backendName(service)}/s${slot.slot}`) ?? 0;
      const timedOut = now - (slot.drainSince ?? now) >= this.d.drainTimeoutMs;
      if (scur > 0 && !timedOut) continue;
      if (scur > 0) this.d.metrics.drainsTimedOut++;
      else this.d.metrics.drainsCompleted++;
      const c = finishDrain(state, service, slot.slot);
      if (c !== undefined) cmds.push(c);
    }
    await this.d.runtime.apply(cmds);
    this.d.freed();
  }

  /**
   * Before the runtime stops a container: its servers go to drain at once
   * (they stay there until the instance leaves the catalog, however its
   * health reads meanwhile) and this waits, bounded by `timeoutMs`, until
   * their sessions reach 0. Containers in no backend return at once.
   */
  async preStop(descriptor: Pick<ContainerDescriptor, 'id'>, timeoutMs: number): Promise<PreStopResult> {
    const names = await this.d.enqueue(async () => {
      const now = this.d.now();
      const cmds: string[] = [];
      const found: string[] = [];
      for (const [service, be] of this.d.state()) {
        for (const s of be.slots) {
          if (s.containerId !== descriptor.id || s.instanceId === undefined) continue;
          const name = `${backendName(service)}/s${s.slot}`;
          found.push(name);
          s.heldUntil = now + timeoutMs + this.d.drainTimeoutMs;
          if (s.state === 'ready') {
            s.state = 'drain';
            cmds.push(`set server ${name} state drain`);
          }
        }
      }
      await this.d.runtime.apply(cmds);
      this.d.changed();
      return found;
    });
    if (names.length === 0) return { servers: [], drained: true, sessions: 0 };
    const deadline = Date.now() + timeoutMs;
    let open = 0;
    for (let i = 0; i < 1_000_000; i++) {
      try {
        const sessions = await this.d.runtime.sessions();
        open = names.reduce((n, name) => n + (sessions.get(name) ?? 0), 0);
      } catch (err) {
        // The Runtime API is unreachable for a moment (a reload): poll again until the deadline.
        if (!(err instanceof UnavailableError)) throw err;
      }
      if (open === 0) return { servers: names, drained: true, sessions: 0 };
      if (Date.now() + DRAIN_POLL_MS > deadline) break;
      await sleep(DRAIN_POLL_MS);
    }
    return { servers: names, drained: false, sessions: open };
  }
}
