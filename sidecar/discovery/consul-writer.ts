import {
  FailedPreconditionError,
  InvalidArgumentError,
  messageOf,
  NotFoundError,
  UnavailableError,
} from '../../runtime/base/errors.js';
import { KeyedMutex } from '../../runtime/base/keyed-mutex.js';
import type { Logger } from '../../runtime/base/log.js';
import { type ConsulClient, isObject, statusOf } from './consul-client.js';
import {
  checkIdOf,
  checkStatuses,
  META_CONTAINER,
  META_NODE,
  maintenanceCheckIdOf,
} from './consul-decode.js';
import type { ServiceInstance } from './types.js';

type CheckHealth = 'passing' | 'warning' | 'critical';

/** What this node wants Consul to hold for one instance. */
export interface Desired {
  instance: ServiceInstance;
  checkHealth: CheckHealth;
  output?: string;
  maintenance: boolean;
  reason?: string;
}

/** `full` re-registers the service and its checks; `check` only re-feeds the TTL check. */
type Work = 'full' | 'check' | 'deregister';

export interface ConsulWriterOptions {
  nodeName: string;
  /** TTL of each instance's `service:<id>` check (Consul duration). */
  checkTtl: string;
  /** How often the TTL checks are re-fed. */
  heartbeatMs: number;
  /** Anti-entropy period. */
  resyncIntervalMs: number;
  /** Delay before the next round after `failures` failed ones in a row. */
  backoff(failures: number): number;
  /** Whether Consul answered the last read (the view's blocking queries decide). */
  reachable(): boolean;
  log: Logger;
}

/**
 * The write half of the Consul catalog: what this node wants registered is
 * kept in memory (`desired`) and a sync worker makes Consul match it,
 * retrying with backoff. A write tries Consul once (skipped when Consul is
 * known down) and resolves either way, so containers never wait on Consul;
 * only a rejection (bad input, ACL) is thrown. Anti-entropy re-registers what
 * a restarted agent lost.
 */
export class ConsulWriter {
  readonly desired = new Map<string, Desired>();
  private readonly work = new Map<string, Work>();
  private readonly writes = new KeyedMutex();
  private wakeWorker: (() => void) | undefined;
  private closed = false;
  private resyncWanted = true;
  private readonly worker: Promise<void>;

  constructor(
    private readonly client: ConsulClient,
    private readonly opts: ConsulWriterOptions,
  ) {
    this.worker = this.syncWorker();
  }

  /** Writes not yet applied to Consul (queued while it is down). */
  get pending(): number {
    return this.work.size;
  }

  /** The instance as this node registered it, or NotFound. */
  get(id: string): Desired {
    const d = this.desired.get(id);
    if (d === undefined) throw new NotFoundError(`service instance "${id}" is not registered by this node`);
    return d;
  }

  /** Queues the write and, when Consul looks reachable, tries it once now. */
  async apply(id: string, w: Work): Promise<void> {
    this.mark(id, w);
    if (!this.opts.reachable()) {
      this.wakeWorker?.();
      return;
    }
    try {
      await this.syncOne(id);
    } catch (err) {
      if (isRejection(err)) throw err;
      this.opts.log.warn({ id, err }, 'consul write failed; queued for retry');
      this.wakeWorker?.();
    }
  }

  /** Asks for an anti-entropy round now (Consul came back, or it may be a new one). */
  resync(): void {
    this.resyncWanted = true;
    this.wakeWorker?.();
  }

  /** Stops the worker; resolves when its round ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeWorker?.();
    await this.worker;
  }

  private mark(id: string, w: Work): void {
    const cur = this.work.get(id);
    // A full registration includes the check status; never downgrade it.
    if (w === 'check' && (cur === 'full' || cur === 'deregister')) return;
    this.work.set(id, w);
  }

  /** Applies the queued work for one id; writes for the same id never overlap. */
  private syncOne(id: string): Promise<void> {
    return this.writes.run(id, () => this.doSync(id));
  }

  private async doSync(id: string): Promise<void> {
    const w = this.work.get(id);
    if (w === undefined) return;
    this.work.delete(id);
    try {
      await this.write(id, w);
    } catch (err) {
      if (isRejection(err)) {
        // Consul refuses this write for good (bad input, ACL): retrying cannot help.
        if (w !== 'deregister') this.desired.delete(id);
        throw err;
      }
      // Newer work queued meanwhile (a register after this deregister…) supersedes this one.
      if (!this.work.has(id)) this.mark(id, w);
      throw err;
    }
  }

  private async write(id: string, w: Work): Promise<void> {
    const d = this.desired.get(id);
    try {
      if (w === 'deregister' || d === undefined) {
        await this.client.deregisterService(id);
        return;
      }
      if (w === 'full') {
        const inst = d.instance;
        const meta: Record<string, string> = { ...inst.meta, [META_NODE]: this.opts.nodeName };
        if (inst.containerId !== undefined) meta[META_CONTAINER] = inst.containerId;
        await this.client.registerService({
          id: inst.id,
          name: inst.service,
          tags: inst.tags,
          meta,
          address: inst.address,
          port: inst.port,
          check: {
            checkid: checkIdOf(inst.id),
            name: `berth health of ${inst.id}`,
            ttl: this.opts.checkTtl,
            status: d.checkHealth,
            timeout: '',
          },
        });
        await this.client.setMaintenance(id, d.maintenance, d.reason);
      }
      await this.client.feedCheck(checkIdOf(id), d.checkHealth, d.output);
    } catch (err) {
      const status = statusOf(err);
      if (w === 'check' && (status === 404 || status === 500)) {
        // The agent lost the check (restarted): register the whole instance again.
        this.mark(id, 'full');
        throw new UnavailableError(`consul: check of "${id}" is unknown to the agent; re-registering`, {
          cause: err,
        });
      }
      if (status === 400) {
        throw new InvalidArgumentError(`consul rejected instance "${id}": ${messageOf(err)}`, { cause: err });
      }
      if (status === 403) {
        throw new FailedPreconditionError(
          `consul denied the write for "${id}" (ACL token?): ${messageOf(err)}`,
          {
            cause: err,
          },
        );
      }
      throw new UnavailableError(`consul: write for "${id}" failed: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Retries queued writes with backoff, re-feeds TTL checks and runs anti-entropy. */
  private async syncWorker(): Promise<void> {
    let failures = 0;
    let nextHeartbeat = Date.now() + this.opts.heartbeatMs;
    let nextResync = Date.now();
    for (let round = 0; !this.closed && round < Number.MAX_SAFE_INTEGER; round++) {
      const now = Date.now();
      if (now >= nextHeartbeat) {
        for (const id of this.desired.keys()) this.mark(id, 'check');
        nextHeartbeat = now + this.opts.heartbeatMs;
      }
      let ok = true;
      const reachable = this.opts.reachable();
      if (reachable && (this.resyncWanted || now >= nextResync)) {
        try {
          await this.antiEntropy();
          this.resyncWanted = false;
          nextResync = Date.now() + this.opts.resyncIntervalMs;
        } catch (err) {
          ok = false;
          this.opts.log.debug({ err }, 'consul anti-entropy failed');
        }
      }
      if (this.opts.reachable()) {
        for (const id of [...this.work.keys()]) {
          if (this.closed) return;
          try {
            await this.syncOne(id);
          } catch (err) {
            if (isRejection(err)) this.opts.log.error({ id, err }, 'consul rejected a queued write; dropped');
            else ok = false;
          }
        }
      }
      failures = ok ? 0 : failures + 1;
      const idle = this.work.size === 0 || !this.opts.reachable();
      const delay =
        ok && !idle ? 0 : ok ? Math.min(nextHeartbeat, nextResync) - Date.now() : this.opts.backoff(failures);
      await this.sleepUntilWoken(Math.max(delay, 10));
    }
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeWorker = () => {
        this.wakeWorker = undefined;
        done();
      };
    });
  }

  /** Finds what the agent lost (restart, manual deregister) and queues it again. */
  private async antiEntropy(): Promise<void> {
    const [services, checks] = await this.client.agentServicesAndChecks();
    const present = new Set(Object.keys(isObject(services) ? services : {}));
    const statuses = checkStatuses(checks);
    for (const [id, d] of this.desired) {
      if (!present.has(id) || statuses.has(maintenanceCheckIdOf(id)) !== d.maintenance) this.mark(id, 'full');
      else if (statuses.get(checkIdOf(id)) !== d.checkHealth) this.mark(id, 'check');
    }
  }
}

/** Errors that mean Consul answered "no" (not "cannot reach"): the write is dropped, not retried. */
export function isRejection(err: unknown): boolean {
  return err instanceof InvalidArgumentError || err instanceof FailedPreconditionError;
}
