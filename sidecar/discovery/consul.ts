import { backoffDelay } from '../../runtime/base/backoff.js';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  messageOf,
  UnavailableError,
} from '../../runtime/base/errors.js';
import type { SubscribeOptions } from '../../runtime/base/events.js';
import type { Logger } from '../../runtime/base/log.js';
import { silentLogger } from '../../runtime/base/log.js';
import { CONSUL_DEFAULTS, consulClientOptions } from './config.js';
import { ConsulClient, type ConsulConnection } from './consul-client.js';
import { ownedFromAgent } from './consul-decode.js';
import { ConsulView } from './consul-view.js';
import { ConsulWriter, type Desired } from './consul-writer.js';
import type { Catalog, CatalogView, ServiceInstance } from './types.js';
import { copyInstance, validateCheckHealth, validateInstance } from './validate.js';

/** Defaults of the client's options: the rows of CONSUL_CONFIG (config.ts). */
const DEFAULTS = consulClientOptions(CONSUL_DEFAULTS);

export type { ConsulConnection } from './consul-client.js';

export interface ConsulCatalogOptions extends ConsulConnection {
  /** berth's node name: written into `berth-node` meta to mark what this node owns. */
  nodeName: string;
  /** TTL of each instance's `service:<id>` check (Consul duration), default `30s`. */
  checkTtl?: string;
  /** How often the TTL checks are re-fed, default 10000 ms (a third of the TTL). */
  heartbeatMs?: number;
  /** Blocking-query wait, default `30s`. */
  wait?: string;
  /** Timeout of a single write and of non-blocking reads, default 3000 ms. */
  requestTimeoutMs?: number;
  /** Backoff between failed attempts: equal jitter below an exponentially growing delay (runtime/base/backoff.ts). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Anti-entropy: how often the agent's services are compared with what this node registered, default 30000 ms. */
  resyncIntervalMs?: number;
  log?: Logger;
}

/**
 * The Consul-backed catalog. Two independent halves over one typed client
 * (consul-client.ts):
 * - reads (consul-view.ts): background blocking queries (catalog services and
 *   check state, stale reads allowed) keep `view()` current; while Consul is
 *   unreachable the last view is kept with `stale: true`, and the loops back
 *   off with jitter.
 * - writes (consul-writer.ts): what this node wants registered is kept in
 *   memory and a sync worker makes Consul match it, retrying with backoff. A
 *   write tries Consul once (bounded by `requestTimeoutMs`, skipped when
 *   Consul is known down) and resolves either way, so containers never wait
 *   on Consul. Anti-entropy re-registers what a restarted agent lost.
 */
export class ConsulCatalog implements Catalog {
  private readonly client: ConsulClient;
  private readonly reader: ConsulView;
  private readonly writer: ConsulWriter;
  private closed = false;
  private agentNode: { name: string; address?: string; datacenter?: string } | undefined;

  constructor(private readonly opts: ConsulCatalogOptions) {
    if (opts.nodeName.trim() === '') {
      throw new InvalidArgumentError('nodeName: must be a non-empty string', { field: 'nodeName' });
    }
    const log = opts.log ?? silentLogger();
    const backoffMinMs = opts.backoffMinMs ?? DEFAULTS.backoffMinMs;
    const backoffMaxMs = opts.backoffMaxMs ?? DEFAULTS.backoffMaxMs;
    // Equal jitter (half fixed, half random) spreads a fleet reconnecting after an outage.
    const backoff = (failures: number) =>
      backoffDelay(failures, { initialMs: backoffMinMs, maxMs: backoffMaxMs, jitter: 0.5 });
    this.client = new ConsulClient(opts, opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs);
    this.reader = new ConsulView(this.client, {
      wait: opts.wait ?? DEFAULTS.wait,
      backoff,
      onReconnect: () => {
        // It may be a different agent now (restart, failover): ask its node name again.
        this.agentNode = undefined;
        this.writer.resync();
      },
      onIndexReset: () => this.writer.resync(),
      log,
    });
    this.writer = new ConsulWriter(this.client, {
      nodeName: opts.nodeName,
      checkTtl: opts.checkTtl ?? DEFAULTS.checkTtl,
      heartbeatMs: opts.heartbeatMs ?? DEFAULTS.heartbeatMs,
      resyncIntervalMs: opts.resyncIntervalMs ?? DEFAULTS.resyncIntervalMs,
      backoff,
      reachable: () => this.reader.reachable,
      log,
    });
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    validateInstance(instance);
    const inst = copyInstance(instance);
    const prev = this.writer.desired.get(inst.id);
    const d: Desired = {
      instance: inst,
      checkHealth: inst.health === 'maintenance' ? (prev?.checkHealth ?? 'passing') : inst.health,
      maintenance: inst.health === 'maintenance' || (prev?.maintenance ?? false),
    };
    if (prev?.reason !== undefined) d.reason = prev.reason;
    if (prev?.output !== undefined) d.output = prev.output;
    this.writer.desired.set(inst.id, d);
    await this.writer.apply(inst.id, 'full');
  }

  async deregister(id: string): Promise<void> {
    this.assertOpen();
    this.writer.desired.delete(id);
    await this.writer.apply(id, 'deregister');
  }

  async setMaintenance(id: string, enabled: boolean, reason?: string): Promise<void> {
    this.assertOpen();
    const d = this.writer.get(id);
    d.maintenance = enabled;
    if (enabled && reason !== undefined) d.reason = reason;
    else delete d.reason;
    await this.writer.apply(id, 'full');
  }

  async setHealth(id: string, health: ServiceInstance['health'], output?: string): Promise<void> {
    this.assertOpen();
    validateCheckHealth(health);
    const d = this.writer.get(id);
    d.checkHealth = health;
    if (output !== undefined) d.output = output;
    await this.writer.apply(id, 'check');
  }

  async owned(): Promise<ServiceInstance[]> {
    this.assertOpen();
    try {
      const node = await this.agentInfo();
      const [services, checks] = await this.client.agentServicesAndChecks();
      return ownedFromAgent(services, checks, this.opts.nodeName, node.address, node.datacenter).map((i) => {
        // Consul places agent services on the agent's node; report that node.
        i.node = node.name;
        return i;
      });
    } catch (err) {
      throw new UnavailableError(`consul: cannot list the agent's services: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }

  view(): CatalogView {
    return this.reader.feed.view;
  }

  watch(opts?: SubscribeOptions): AsyncIterable<CatalogView> {
    return this.reader.feed.watch(opts);
  }

  /** Writes not yet applied to Consul (queued while it is down); for tests and self-metrics. */
  get pendingWrites(): number {
    return this.writer.pending;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.reader.close(), this.writer.close()]);
    this.reader.feed.close();
    this.client.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw new FailedPreconditionError('consul catalog is closed');
  }

  private async agentInfo(): Promise<{ name: string; address?: string; datacenter?: string }> {
    if (this.agentNode !== undefined) return this.agentNode;
    const self = await this.client.agentNode();
    const info: { name: string; address?: string; datacenter?: string } = {
      name: self.name ?? this.opts.nodeName,
    };
    if (self.address !== undefined) info.address = self.address;
    if (self.datacenter !== undefined) info.datacenter = self.datacenter;
    this.agentNode = info;
    return info;
  }
}
