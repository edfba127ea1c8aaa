import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';
import { backoffDelay } from '../../runtime/base/backoff.js';
import { goDurationMs } from '../../runtime/base/duration.js';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  messageOf,
  NotFoundError,
  UnavailableError,
} from '../../runtime/base/errors.js';
import type { SubscribeOptions } from '../../runtime/base/events.js';
import { KeyedMutex } from '../../runtime/base/keyed-mutex.js';
import type { Logger } from '../../runtime/base/log.js';
import { silentLogger } from '../../runtime/base/log.js';
import {
  checkIdOf,
  checkStatuses,
  instanceFromHealthEntry,
  META_CONTAINER,
  META_NODE,
  maintenanceCheckIdOf,
  ownedFromAgent,
  serviceNames,
} from './consul-decode.js';
import type { Catalog, CatalogView, ServiceInstance } from './types.js';
import { copyInstance, validateCheckHealth, validateInstance } from './validate.js';
import { ViewFeed } from './view-feed.js';

export interface ConsulCatalogOptions {
  host?: string;
  /** HTTP(S) API port, default 8500. */
  port?: number;
  secure?: boolean;
  /** PEM CA bundle to verify Consul's certificate (with `secure`). */
  ca?: string | Buffer;
  /** ACL token (sent as X-Consul-Token). */
  token?: string;
  /** Datacenter to read; default the agent's own. */
  datacenter?: string;
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

type CheckHealth = 'passing' | 'warning' | 'critical';

/** What this node wants Consul to hold for one instance. */
interface Desired {
  instance: ServiceInstance;
  checkHealth: CheckHealth;
  output?: string;
  maintenance: boolean;
  reason?: string;
}

/** `full` re-registers the service and its checks; `check` only re-feeds the TTL check. */
type Work = 'full' | 'check' | 'deregister';

/** A ctx papi understands: cancelling it aborts the in-flight requests made with it. */
class RequestContext extends EventEmitter {
  readonly includeResponse = true;
  canceled = false;
  cancel(): void {
    this.canceled = true;
    this.emit('cancel');
  }
}

/** Request options the client passes through (its typings list fewer than it accepts). */
interface Req {
  token?: string;
  timeout?: number;
  stale?: boolean;
  index?: string;
  wait?: string;
  ctx?: EventEmitter;
}

interface HttpResponse {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The Consul-backed catalog. Two independent halves:
 * - reads: background blocking queries (catalog services and check state,
 *   stale reads allowed) keep `view()` current; while Consul is unreachable
 *   the last view is kept with `stale: true`, and the loops back off with
 *   jitter.
 * - writes: what this node wants registered is kept in memory and a sync
 *   worker makes Consul match it, retrying with backoff. A write tries Consul
 *   once (bounded by `requestTimeoutMs`, skipped when Consul is known down) and
 *   resolves either way, so containers never wait on Consul. Anti-entropy
 *   re-registers what a restarted agent lost.
 */
export class ConsulCatalog implements Catalog {
  private readonly consul: Consul;
  private readonly httpAgent: HttpAgent;
  private readonly feed = new ViewFeed({ instances: [], stale: true });
  private readonly log: Logger;
  private readonly desired = new Map<string, Desired>();
  private readonly work = new Map<string, Work>();
  private readonly writes = new KeyedMutex();
  private readonly ctx = new RequestContext();
  private readonly stop = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private wakeWorker: (() => void) | undefined;
  private closed = false;
  private reachable = false;
  private lastInstances: ServiceInstance[] = [];
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private resyncWanted = true;
  private agentNode: { name: string; address?: string; datacenter?: string } | undefined;

  private readonly checkTtl: string;
  private readonly heartbeatMs: number;
  private readonly wait: string;
  private readonly timeoutMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly resyncIntervalMs: number;

  constructor(private readonly opts: ConsulCatalogOptions) {
    if (opts.nodeName.trim() === '') {
      throw new InvalidArgumentError('nodeName: must be a non-empty string', { field: 'nodeName' });
    }
    this.log = opts.log ?? silentLogger();
    this.checkTtl = opts.checkTtl ?? '30s';
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.wait = opts.wait ?? '30s';
    this.timeoutMs = opts.requestTimeoutMs ?? 3000;
    this.backoffMinMs = opts.backoffMinMs ?? 250;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 30_000;
    this.httpAgent = opts.secure
      ? new HttpsAgent({ keepAlive: true, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) })
      : new HttpAgent({ keepAlive: true });
    const defaults: { token?: string; dc?: string } = {};
    if (opts.token !== undefined) defaults.token = opts.token;
    if (opts.datacenter !== undefined) defaults.dc = opts.datacenter;
    this.consul = new Consul({
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 8500,
      secure: opts.secure ?? false,
      agent: this.httpAgent,
      defaults,
    });
    this.loops.push(this.blockingLoop('health', (index) => this.queryChecks(index)));
    this.loops.push(this.blockingLoop('services', (index) => this.queryServices(index)));
    this.loops.push(this.syncWorker());
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    validateInstance(instance);
    const inst = copyInstance(instance);
    const prev = this.desired.get(inst.id);
    const d: Desired = {
      instance: inst,
      checkHealth: inst.health === 'maintenance' ? (prev?.checkHealth ?? 'passing') : inst.health,
      maintenance: inst.health === 'maintenance' || (prev?.maintenance ?? false),
    };
    if (prev?.reason !== undefined) d.reason = prev.reason;
    if (prev?.output !== undefined) d.output = prev.output;
    this.desired.set(inst.id, d);
    await this.apply(inst.id, 'full');
  }

  async deregister(id: string): Promise<void> {
    this.assertOpen();
    this.desired.delete(id);
    await this.apply(id, 'deregister');
  }

  async setMaintenance(id: string, enabled: boolean, reason?: string): Promise<void> {
    this.assertOpen();
    const d = this.get(id);
    d.maintenance = enabled;
    if (enabled && reason !== undefined) d.reason = reason;
    else delete d.reason;
    await this.apply(id, 'full');
  }

  async setHealth(id: string, health: ServiceInstance['health'], output?: string): Promise<void> {
    this.assertOpen();
    validateCheckHealth(health);
    const d = this.get(id);
    d.checkHealth = health;
    if (output !== undefined) d.output = output;
    await this.apply(id, 'check');
  }

  async owned(): Promise<ServiceInstance[]> {
    this.assertOpen();
    try {
      const node = await this.agentInfo();
      const o: Req = { timeout: this.timeoutMs };
      const [services, checks] = await Promise.all([
        this.consul.agent.service.list(o),
        this.consul.agent.checks(o),
      ]);
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
    return this.feed.view;
  }

  watch(opts?: SubscribeOptions): AsyncIterable<CatalogView> {
    return this.feed.watch(opts);
  }

  /** Writes not yet applied to Consul (queued while it is down); for tests and self-metrics. */
  get pendingWrites(): number {
    return this.work.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    this.ctx.cancel();
    this.wakeWorker?.();
    await Promise.allSettled(this.loops);
    this.feed.close();
    this.httpAgent.destroy();
  }

  // ---- writes -------------------------------------------------------------

  private get(id: string): Desired {
    const d = this.desired.get(id);
    if (d === undefined) throw new NotFoundError(`service instance "${id}" is not registered by this node`);
    return d;
  }

  private assertOpen(): void {
    if (this.closed) throw new FailedPreconditionError('consul catalog is closed');
  }

  private mark(id: string, w: Work): void {
    const cur = this.work.get(id);
    // A full registration includes the check status; never downgrade it.
    if (w === 'check' && (cur === 'full' || cur === 'deregister')) return;
    this.work.set(id, w);
  }

  /** Queues the write and, when Consul looks reachable, tries it once now. */
  private async apply(id: string, w: Work): Promise<void> {
    this.mark(id, w);
    if (!this.reachable) {
      this.wakeWorker?.();
      return;
    }
    try {
      await this.syncOne(id);
    } catch (err) {
      if (isRejection(err)) throw err;
      this.log.warn({ id, err: messageOf(err) }, 'consul write failed; queued for retry');
      this.wakeWorker?.();
    }
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
    const o: Req = { timeout: this.timeoutMs };
    const d = this.desired.get(id);
    try {
      if (w === 'deregister' || d === undefined) {
        await this.consul.agent.service.deregister({ id, ...o }).catch((err: unknown) => {
          if (statusOf(err) !== 404) throw err;
        });
        return;
      }
      if (w === 'full') {
        const inst = d.instance;
        const meta: Record<string, string> = { ...inst.meta, [META_NODE]: this.opts.nodeName };
        if (inst.containerId !== undefined) meta[META_CONTAINER] = inst.containerId;
        const reg = {
          id: inst.id,
          name: inst.service,
          tags: inst.tags,
          meta,
          address: inst.address,
          port: inst.port,
          check: {
            checkid: checkIdOf(inst.id),
            name: `berth health of ${inst.id}`,
            ttl: this.checkTtl,
            status: d.checkHealth,
            timeout: '',
          },
          ...o,
        };
        await this.consul.agent.service.register(reg);
        await this.consul.agent.service.maintenance({
          id,
          enable: d.maintenance,
          ...(d.reason !== undefined ? { reason: d.reason } : {}),
          ...o,
        });
      }
      const check = { id: checkIdOf(id), ...(d.output !== undefined ? { note: d.output } : {}), ...o };
      if (d.checkHealth === 'passing') await this.consul.agent.check.pass(check);
      else if (d.checkHealth === 'warning') await this.consul.agent.check.warn(check);
      else await this.consul.agent.check.fail(check);
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
    let nextHeartbeat = Date.now() + this.heartbeatMs;
    let nextResync = Date.now();
    for (let round = 0; !this.closed && round < Number.MAX_SAFE_INTEGER; round++) {
      const now = Date.now();
      if (now >= nextHeartbeat) {
        for (const id of this.desired.keys()) this.mark(id, 'check');
        nextHeartbeat = now + this.heartbeatMs;
      }
      let ok = true;
      if (this.reachable && (this.resyncWanted || now >= nextResync)) {
        try {
          await this.antiEntropy();
          this.resyncWanted = false;
          nextResync = Date.now() + this.resyncIntervalMs;
        } catch (err) {
          ok = false;
          this.log.debug({ err: messageOf(err) }, 'consul anti-entropy failed');
        }
      }
      if (this.reachable) {
        for (const id of [...this.work.keys()]) {
          if (this.closed) return;
          try {
            await this.syncOne(id);
          } catch (err) {
            if (isRejection(err))
              this.log.error({ id, err: messageOf(err) }, 'consul rejected a queued write; dropped');
            else ok = false;
          }
        }
      }
      failures = ok ? 0 : failures + 1;
      const idle = this.work.size === 0 || !this.reachable;
      const delay =
        ok && !idle ? 0 : ok ? Math.min(nextHeartbeat, nextResync) - Date.now() : this.backoff(failures);
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
    const o: Req = { timeout: this.timeoutMs };
    const [services, checks] = await Promise.all([
      this.consul.agent.service.list(o),
      this.consul.agent.checks(o),
    ]);
    const present = new Set(Object.keys(isObject(services) ? services : {}));
    const statuses = checkStatuses(checks);
    for (const [id, d] of this.desired) {
      if (!present.has(id) || statuses.has(maintenanceCheckIdOf(id)) !== d.maintenance) this.mark(id, 'full');
      else if (statuses.get(checkIdOf(id)) !== d.checkHealth) this.mark(id, 'check');
    }
  }

  private async agentInfo(): Promise<{ name: string; address?: string; datacenter?: string }> {
    if (this.agentNode !== undefined) return this.agentNode;
    const self: unknown = await this.consul.agent.self({ timeout: this.timeoutMs } as { token?: string });
    const cfg = isObject(self) && isObject(self.Config) ? self.Config : {};
    const member = isObject(self) && isObject(self.Member) ? self.Member : {};
    const info: { name: string; address?: string; datacenter?: string } = {
      name: typeof cfg.NodeName === 'string' ? cfg.NodeName : this.opts.nodeName,
    };
    if (typeof member.Addr === 'string') info.address = member.Addr;
    if (typeof cfg.Datacenter === 'string') info.datacenter = cfg.Datacenter;
    this.agentNode = info;
    return info;
  }

  // ---- reads --------------------------------------------------------------

  private async queryChecks(index: string): Promise<string | undefined> {
    const opts = {
      state: 'any' as const,
      index,
      wait: this.wait,
      stale: true,
      ctx: this.ctx,
      timeout: this.blockingTimeout(),
    };
    const [res] = (await this.consul.health.state(opts)) as unknown as [HttpResponse, unknown];
    return headerIndex(res);
  }

  private async queryServices(index: string): Promise<string | undefined> {
    const opts: Req = { index, wait: this.wait, stale: true, ctx: this.ctx, timeout: this.blockingTimeout() };
    const [res] = (await this.consul.catalog.service.list(opts)) as unknown as [HttpResponse, unknown];
    return headerIndex(res);
  }

  private blockingTimeout(): number {
    return (goDurationMs(this.wait) ?? 30_000) * 1.2 + 5000;
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
          // It may be a different agent now (restart, failover): ask its node name again.
          this.agentNode = undefined;
          this.resyncWanted = true;
          this.wakeWorker?.();
        }
        if (BigInt(next) < BigInt(index)) {
          this.resyncWanted = true;
          this.wakeWorker?.();
        }
        if (next !== index || wasDown || this.feed.view.stale) {
          index = next;
          await this.refresh();
        }
      } catch (err) {
        if (this.closed) return;
        failures++;
        this.markDown(name, err);
        await this.pause(this.backoff(failures));
        index = '0';
      }
    }
  }

  private markDown(what: string, err: unknown): void {
    if (this.reachable)
      this.log.warn(
        { query: what, err: messageOf(err) },
        'consul unreachable; serving the last view as stale',
      );
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
    const o: Req = { stale: true, timeout: this.timeoutMs };
    const names = serviceNames(await this.consul.catalog.service.list(o));
    const lists = await Promise.all(
      names.map(async (service) => {
        const entries: unknown = await this.consul.health.service({ service, ...o });
        return Array.isArray(entries) ? entries : [];
      }),
    );
    const out: ServiceInstance[] = [];
    for (const entries of lists) {
      for (const e of entries) {
        const inst = instanceFromHealthEntry(e);
        if (inst !== undefined) out.push(inst);
      }
    }
    return out;
  }

  private backoff(failures: number): number {
    // Equal jitter (half fixed, half random) spreads a fleet reconnecting after an outage.
    return backoffDelay(failures, { initialMs: this.backoffMinMs, maxMs: this.backoffMaxMs, jitter: 0.5 });
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stop.signal }).catch(() => undefined);
  }
}

function headerIndex(res: HttpResponse): string | undefined {
  const h = res.headers['x-consul-index'];
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof Error && 'statusCode' in err) {
    try {
      const s = (err as { statusCode: unknown }).statusCode;
      return typeof s === 'number' ? s : undefined;
    } catch {
      return undefined;
    }
  }
  if (err instanceof Error && err.cause !== undefined) return statusOf(err.cause);
  return undefined;
}

/** Errors that mean Consul answered "no" (not "cannot reach"): the write is dropped, not retried. */
function isRejection(err: unknown): boolean {
  return err instanceof InvalidArgumentError || err instanceof FailedPreconditionError;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
