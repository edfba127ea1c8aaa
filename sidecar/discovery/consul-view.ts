import { setTimeout as sleep } from 'node:timers/promises';
import { goDurationMs } from '../../runtime/base/duration.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ConsulClient } from './consul-client.js';
import { instanceFromHealthEntry, serviceNames } from './consul-decode.js';
import type { ServiceInstance } from './types.js';
import { ViewFeed } from './view-feed.js';

export interface ConsulViewOptions {
  /** Blocking-query wait (Consul duration). */
  wait: string;
  /** Delay before the next query after `failures` failed ones in a row. */
  backoff(failures: number): number;
  /** Consul answered again after being unreachable (maybe another agent now). */
  onReconnect(): void;
  /** An index went backwards: a new Consul, whose state was lost. */
  onIndexReset(): void;
  log: Logger;
}

/**
 * The read half of the Consul catalog: two blocking queries (check states and
 * the service list, stale reads allowed) keep `feed.view` current; whenever
 * either index moves the whole view is rebuilt. While Consul is unreachable
 * the last view is kept with `stale: true` and the queries back off.
 */
export class ConsulView {
  readonly feed = new ViewFeed({ instances: [], stale: true });
  /** Whether the last query got an answer. */
  reachable = false;
  private closed = false;
  private readonly stop = new AbortController();
  private lastInstances: ServiceInstance[] = [];
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly client: ConsulClient,
    private readonly opts: ConsulViewOptions,
  ) {
    const timeout = (goDurationMs(opts.wait) ?? 30_000) * 1.2 + 5000;
    this.loops = [
      this.blockingLoop('health', (index) => client.waitChecks(index, opts.wait, timeout)),
      this.blockingLoop('services', (index) => client.waitServices(index, opts.wait, timeout)),
    ];
  }

  /** Stops the queries (those in flight are aborted); resolves when both loops ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    this.client.cancel();
    await Promise.allSettled(this.loops);
  }

  /**
   * One blocking query in a loop: whenever its index moves, the view is
   * rebuilt. An index that goes backwards means a new Consul (state lost), so
   * anti-entropy runs at once.
   */
  private async blockingLoop(
    name: string,
    query: (index: string) => Promise<string | undefined>,
  ): Promise<void> {
    let index = '0';
    let failures = 0;
    for (let round = 0; !this.closed && round < Number.MAX_SAFE_INTEGER; round++) {
      try {
        const next = (await query(index)) ?? '0';
        const wasDown = failures > 0 || !this.reachable;
        failures = 0;
        if (!this.reachable) {
          this.reachable = true;
          this.opts.onReconnect();
        }
        if (BigInt(next) < BigInt(index)) this.opts.onIndexReset();
        if (next !== index || wasDown || this.feed.view.stale) {
          index = next;
          await this.refresh();
        }
      } catch (err) {
        if (this.closed) return;
        failures++;
        this.markDown(name, err);
        await this.pause(this.opts.backoff(failures));
        index = '0';
      }
    }
  }

  private markDown(what: string, err: unknown): void {
    if (this.reachable)
      this.opts.log.warn({ query: what, err }, 'consul unreachable; serving the last view as stale');
    this.reachable = false;
    this.feed.update(this.lastInstances, true);
  }

  /** Rebuilds the whole view (coalesced: one rebuild at a time, one more if asked meanwhile). */
  private refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      for (let i = 0; i < 100; i++) {
        this.refreshAgain = false;
        try {
          const instances = await this.fetchAll();
          this.lastInstances = instances;
          this.feed.update(instances, false);
        } catch (err) {
          if (!this.closed) this.markDown('refresh', err);
        }
        if (!this.refreshAgain || this.closed) break;
      }
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async fetchAll(): Promise<ServiceInstance[]> {
    const names = serviceNames(await this.client.services());
    const lists = await Promise.all(names.map((service) => this.client.serviceHealth(service)));
    const out: ServiceInstance[] = [];
    for (const entries of lists) {
      for (const e of entries) {
        const inst = instanceFromHealthEntry(e);
        if (inst !== undefined) out.push(inst);
      }
    }
    return out;
  }

  private async pause(ms: number): Promise<void> {
    // Rejects only when close() aborts the wait: the loop then sees `closed` and ends.
    await sleep(ms, undefined, { signal: this.stop.signal }).catch(() => undefined);
  }
}
