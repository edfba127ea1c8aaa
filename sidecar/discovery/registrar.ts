// Over 400 lines: event handling, reconcile and service-id claims share one lock and one map of registrations; the pure parts are registrator.ts, checks.ts and probe.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../runtime/base/backoff.js';
import { isUnavailable } from '../../runtime/base/errors.js';
import type { Envelope } from '../../runtime/base/events.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import type { Logger } from '../../runtime/base/log.js';
import { silentLogger } from '../../runtime/base/log.js';
import type {
  ContainerDescriptor,
  ContainerEvent,
  ContainerSource,
  RuntimeEvent,
} from '../../runtime/types.js';
import { DISCOVERY_DEFAULTS, registrarOptions } from './config.js';
import { isProbed, type ProbeResult, Prober } from './probe.js';
import {
  type CheckSpec,
  type CheckStatus,
  type HostFacts,
  type Registration,
  registrationsFor,
} from './registrator.js';
import type { Catalog, ServiceInstance } from './types.js';

/** Defaults of the options: the rows of DISCOVERY_CONFIG (config.ts). */
const DEFAULTS = registrarOptions(DISCOVERY_DEFAULTS);

export interface RegistrarOptions {
  source: ContainerSource;
  catalog: Catalog;
  host: HostFacts;
  /**
   * How long `preStop` holds a container in maintenance before letting the
   * stop go on, so DNS caches (TTL) and HAProxy stop sending it new work.
   * Default 2000 ms; 0 skips the wait.
   */
  drainMs?: number;
  /** Reconcile this often as a safety net (0 = only on start and after an overflow). Default 0. */
  reconcileIntervalMs?: number;
  /** Retry a failed reconcile (e.g. Consul down) after this, doubling up to `reconcileRetryMaxMs`. Default 1000. */
  reconcileRetryMs?: number;
  reconcileRetryMaxMs?: number;
  /** Event subscription buffer; overflowing it means a resync. Default 10000. */
  eventBuffer?: number;
  log?: Logger;
}

/** Plain numbers for the metrics sidecar. */
export class RegistrarCounters {
  registered = 0;
  deregistered = 0;
  healthUpdates = 0;
  maintenance = 0;
  /** Catalog calls that failed (logged; the catalog's own queue retries what it can). */
  catalogErrors = 0;
  eventsHandled = 0;
  reconciles = 0;
  reconcileFailures = 0;
  reconcileAdded = 0;
  reconcileRemoved = 0;
  /** Times the event subscription fell behind and was replaced by a relist. */
  eventOverflows = 0;
  /** Settings dropped from labels (see Registration.warnings). */
  labelWarnings = 0;
  /** Runs of label-declared checks (SERVICE_CHECK_HTTP|HTTPS|TCP). */
  probes = 0;
  /** Instances refused because their id (SERVICE_ID…) belongs to another running container. */
  idConflicts = 0;

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === 'number') out[k] = v;
    return out;
  }
}

/**
 * One registered instance and the inputs of its health: the worst of the
 * runtime's verdict (when the container has a health check) and the last
 * result of the label-declared check berth runs (when there is one).
 */
interface Tracked {
  instance: ServiceInstance;
  check?: CheckSpec;
  runtime?: CheckStatus;
  probe?: CheckStatus;
  prober?: Prober;
}

/** An instance left out because another running container holds its id. */
interface Refusal {
  id: string;
  /** The container holding the id. */
  owner: string;
}

/** What this registrar registered for one container. */
interface Registered {
  /** The latest descriptor, to register again once a refused id is free. */
  container: ContainerDescriptor;
  ids: string[];
  instances: Tracked[];
  refused: Refusal[];
}

const RANK: Record<CheckStatus, number> = { passing: 0, warning: 1, critical: 2 };

function worst(a: CheckStatus | undefined, b: CheckStatus | undefined): CheckStatus {
  if (a === undefined) return b ?? 'passing';
  if (b === undefined) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

/** The runtime's health as a check status; undefined when the container has no health check. */
function runtimeVerdict(
  h: ContainerDescriptor['health'],
  check: CheckSpec | undefined,
): CheckStatus | undefined {
  switch (h) {
    case 'healthy':
      return 'passing';
    case 'unhealthy':
      return 'critical';
    case 'starting':
      return check?.initialStatus ?? 'critical';
    default:
      return undefined;
  }
}

const healthOf = (t: Tracked): CheckStatus => worst(t.runtime, t.probe);

/**
 * Keeps the catalog in step with the containers of a `ContainerSource`:
 * register on start, mirror the runtime's health check as the instance's
 * check, maintenance (drain) before a stop, deregister on death and removal,
 * and reconcile (owned instances without a running container removed,
 * missing ones added) on start and whenever the event stream was lost.
 *
 * Never in a container's way: the runtime only publishes events, `preStop`
 * waits at most `drainMs` (catalog writes are not awaited there), and catalog
 * failures are counted and logged, not thrown.
 */
export class Registrar {
  readonly counters = new RegistrarCounters();
  private readonly log: Logger;
  private readonly byContainer = new Map<string, Registered>();
  private readonly stopper = new AbortController();
  /** One operation at a time (events, reconciles), in arrival order. */
  private readonly lock = new Mutex();
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly retry: Backoff;
  private started = false;
  private readonly drainMs: number;
  /** Names of the containers a reconcile is planning (not yet in byContainer), for refusal messages. */
  private pendingNames = new Map<string, string>();

  constructor(private readonly opts: RegistrarOptions) {
    this.log = opts.log ?? silentLogger();
    this.drainMs = opts.drainMs ?? DEFAULTS.drainMs;
    this.retry = new Backoff({
      initialMs: opts.reconcileRetryMs ?? DEFAULTS.reconcileRetryMs,
      maxMs: opts.reconcileRetryMaxMs ?? DEFAULTS.reconcileRetryMaxMs,
      jitter: 0,
    });
  }

  /**
   * Subscribes to the source, then reconciles (events that arrive meanwhile
   * are applied after it, as deltas), then follows the events. Resolves
   * after the first reconcile was attempted; a failed one is retried.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const events = this.subscribe();
    await this.lock.run(() => this.reconcileOrRetry());
    this.loop = this.follow(events);
    const every = this.opts.reconcileIntervalMs ?? DEFAULTS.reconcileIntervalMs;
    if (every > 0) {
      const t = setInterval(() => void this.lock.run(() => this.reconcileOrRetry()), every);
      t.unref();
      this.stopper.signal.addEventListener('abort', () => clearInterval(t), { once: true });
    }
  }

  /** Stops following events. Registrations stay: containers outlive the agent. */
  async close(): Promise<void> {
    this.stopper.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const reg of this.byContainer.values()) stopProbers(reg.instances);
    await this.loop;
    await this.lock;
    for (const reg of this.byContainer.values()) stopProbers(reg.instances);
  }

  /**
   * Called by the container manager before it stops a container: the
   * container's instances go into maintenance (DNS and HAProxy stop sending
   * it new work), then this waits `drainMs` and resolves. Never throws and
   * never waits on the catalog.
   */
  async preStop(
    c: Pick<ContainerDescriptor, 'id'>,
    opts: { drainMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const reg = this.byContainer.get(c.id);
    if (reg === undefined || reg.ids.length === 0) return;
    for (const id of reg.ids) {
      void this.call('maintenance', () =>
        this.opts.catalog.setMaintenance(id, true, 'berth: container stopping'),
      );
    }
    const wait = opts.drainMs ?? this.drainMs;
    if (wait > 0) {
      // Rejects only when the caller aborts the wait: the stop goes on at once.
      await sleep(wait, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  }

  /** Instance ids registered for a container (for tests and the API). */
  registeredIds(containerId: string): readonly string[] {
    return this.byContainer.get(containerId)?.ids ?? [];
  }

  /**
   * Makes the catalog match the running containers: lists the source and
   * the catalog's `owned()` instances; owned instances with no running
   * container are deregistered, missing or changed ones registered, health
   * differences corrected. Throws when the catalog cannot be read (Consul
   * down: acting on a guess would remove live registrations).
   */
  async reconcile(): Promise<{ added: number; removed: number; updated: number }> {
    return this.lock.run(() => this.reconcileNow());
  }

  private async reconcileNow(): Promise<{ added: number; removed: number; updated: number }> {
    this.counters.reconciles++;
    const running = (await this.opts.source.list()).filter((c) => c.state === 'running');
    const plans = new Map(running.map((c) => [c.id, this.plan(c)]));
    let owned: ServiceInstance[] | undefined;
    let ownedErr: unknown;
    try {
      owned = await this.opts.catalog.owned();
    } catch (err) {
      ownedErr = err;
    }
    const holders = this.holders(running, plans, owned ?? []);
    const desired = new Map<string, ServiceInstance>();
    const previous = new Map(this.byContainer);
    this.pendingNames = new Map(running.map((c) => [c.id, c.name]));
    this.byContainer.clear();
    for (const c of running) {
      const holder = (id: string): string | undefined => {
        const h = holders.get(id);
        return h === c.id ? undefined : h;
      };
      const prev = previous.get(c.id);
      const reg = this.track(c, this.claim(c, plans.get(c.id) ?? [], holder, prev), prev);
      previous.delete(c.id);
      this.byContainer.set(c.id, reg);
      for (const t of reg.instances) desired.set(t.instance.id, { ...t.instance, health: healthOf(t) });
    }
    this.pendingNames.clear();
    for (const gone of previous.values()) stopProbers(gone.instances);
    if (owned === undefined) {
      // The catalog cannot say what it holds (Consul down): register what runs
      // (the catalog queues it) but remove nothing on a guess; retried later.
      for (const want of desired.values())
        await this.call('register', () => this.opts.catalog.register(want));
      throw ownedErr;
    }
    const have = new Map(owned.map((i) => [i.id, i]));
    let added = 0;
    let removed = 0;
    let updated = 0;
    for (const inst of owned) {
      if (desired.has(inst.id)) continue;
      removed++;
      await this.call('deregister', () => this.opts.catalog.deregister(inst.id));
    }
    for (const [id, want] of desired) {
      const cur = have.get(id);
      if (cur === undefined) {
        added++;
        await this.call('register', () => this.opts.catalog.register(want));
      } else if (!sameRegistration(cur, want)) {
        updated++;
        await this.call('register', () => this.opts.catalog.register(want));
      } else if (cur.health !== 'maintenance' && cur.health !== want.health) {
        updated++;
        await this.call('health', () => this.opts.catalog.setHealth(id, want.health));
      }
    }
    this.counters.reconcileAdded += added;
    this.counters.reconcileRemoved += removed;
    this.log.info({ added, removed, updated, running: running.length }, 'discovery: reconciled');
    return { added, removed, updated };
  }

  /**
   * Which running container holds each planned id when several want it: the
   * one this registrar already registered it for, else the one the catalog
   * has it for (an agent restart), else the oldest container.
   */
  private holders(
    running: ContainerDescriptor[],
    plans: Map<string, Registration[]>,
    owned: ServiceInstance[],
  ): Map<string, string> {
    const wanting = new Map<string, ContainerDescriptor[]>();
    for (const c of running) {
      for (const r of plans.get(c.id) ?? []) {
        const list = wanting.get(r.instance.id) ?? [];
        if (!list.includes(c)) list.push(c);
        wanting.set(r.instance.id, list);
      }
    }
    const inCatalog = new Map(owned.map((i) => [i.id, i.containerId]));
    const out = new Map<string, string>();
    for (const [id, cs] of wanting) {
      const first =
        cs.find((c) => this.byContainer.get(c.id)?.ids.includes(id) === true) ??
        cs.find((c) => inCatalog.get(id) === c.id) ??
        [...cs].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))[0];
      if (first !== undefined) out.set(id, first.id);
    }
    return out;
  }

  /** Reconcile; on failure count it and schedule a retry with doubling delay. */
  private async reconcileOrRetry(): Promise<void> {
    if (this.stopper.signal.aborted) return;
    try {
      await this.reconcileNow();
      this.retry.reset();
    } catch (err) {
      this.counters.reconcileFailures++;
      const delay = this.retry.next();
      this.log.warn({ err, retryInMs: delay }, 'discovery: reconcile failed; retrying');
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.lock.run(() => this.reconcileOrRetry()), delay);
      this.timer.unref();
    }
  }

  private subscribe(): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.opts.source.events({
      topics: ['container.*'],
      signal: this.stopper.signal,
      buffer: this.opts.eventBuffer ?? DEFAULTS.eventBuffer,
    });
  }

  /**
   * Applies events one at a time. A subscription that fell behind fails
   * with Unavailable: subscribe again, then relist (reconcile) — the
   * consumer contract of ContainerSource.
   */
  private async follow(first: AsyncIterable<Envelope<RuntimeEvent>>): Promise<void> {
    let events = first;
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000, jitter: 0 });
    while (!this.stopper.signal.aborted) {
      try {
        for await (const env of events) {
          backoff.reset();
          await this.lock.run(() => this.handle(env));
        }
        return;
      } catch (err) {
        if (this.stopper.signal.aborted) return;
        if (isUnavailable(err)) {
          this.counters.eventOverflows++;
          this.log.warn({ err }, 'discovery: event stream lost; relisting');
        } else {
          // Bounded backoff on a source that keeps failing.
          this.log.error({ err }, 'discovery: event stream failed');
          await sleep(backoff.next(), undefined, {
            signal: this.stopper.signal,
            // Rejects only when close() aborts the wait: the loop then ends.
          }).catch(() => undefined);
          if (this.stopper.signal.aborted) return;
        }
        events = this.subscribe();
        await this.lock.run(() => this.reconcileOrRetry());
      }
    }
  }

  private async handle(env: Envelope<RuntimeEvent>): Promise<void> {
    if (!('container' in env.event)) return;
    const ev: ContainerEvent = env.event;
    const c = ev.container;
    this.counters.eventsHandled++;
    switch (env.topic) {
      case 'container.started':
        await this.onStarted(c);
        break;
      case 'container.healthy':
        await this.setHealth(c, 'passing');
        break;
      case 'container.unhealthy':
        await this.setHealth(c, 'critical');
        break;
      case 'container.stopping':
        // A stop without preStop (another engine, observe mode): drain without waiting.
        for (const id of this.byContainer.get(c.id)?.ids ?? []) {
          await this.call('maintenance', () =>
            this.opts.catalog.setMaintenance(id, true, 'berth: container stopping'),
          );
        }
        break;
      case 'container.died':
      case 'container.removed':
        await this.forget(c.id);
        break;
      default:
        break;
    }
  }

  private async onStarted(c: ContainerDescriptor): Promise<void> {
    const prev = this.byContainer.get(c.id);
    const reg = this.track(
      c,
      this.claim(c, this.plan(c), (id) => this.holderOf(id, c.id), prev),
      prev,
    );
    // A restart with new labels or ports: what the old registration had and the new one lacks goes.
    for (const old of prev?.ids ?? []) {
      if (!reg.ids.includes(old)) await this.call('deregister', () => this.opts.catalog.deregister(old));
    }
    this.byContainer.set(c.id, reg);
    for (const t of reg.instances) {
      const inst = { ...t.instance, health: healthOf(t) };
      await this.call('register', () => this.opts.catalog.register(inst));
    }
  }

  /**
   * The tracked state of a container's registrations, keeping the probe
   * state (and prober) of instances that were already tracked with the same
   * check, starting probers for new checks and stopping the rest.
   */
  private track(
    c: ContainerDescriptor,
    claimed: { allowed: Registration[]; refused: Refusal[] },
    prev: Registered | undefined,
  ): Registered {
    const regs = claimed.allowed;
    const old = new Map((prev?.instances ?? []).map((t) => [t.instance.id, t]));
    const instances: Tracked[] = [];
    for (const r of regs) {
      const t: Tracked = { instance: r.instance };
      if (r.check !== undefined) t.check = r.check;
      const runtime = runtimeVerdict(c.health, r.check);
      if (runtime !== undefined) t.runtime = runtime;
      const before = old.get(r.instance.id);
      if (isProbed(r.check)) {
        if (before?.prober !== undefined && JSON.stringify(before.check) === JSON.stringify(r.check)) {
          t.prober = before.prober;
          t.probe = before.probe ?? r.check.initialStatus ?? 'critical';
          old.delete(r.instance.id);
        } else {
          t.probe = r.check.initialStatus ?? 'critical';
          t.prober = this.startProber(c.id, r.instance.id, r.check);
        }
      }
      instances.push(t);
    }
    stopProbers([...old.values()]);
    return { container: c, ids: instances.map((t) => t.instance.id), instances, refused: claimed.refused };
  }

  /** The container (other than `except`) this registrar registered `id` for. */
  private holderOf(id: string, except: string): string | undefined {
    for (const [cid, reg] of this.byContainer) if (cid !== except && reg.ids.includes(id)) return cid;
    return undefined;
  }

  /**
   * Splits a container's registrations into the ones it may make and the
   * ones whose id another running container holds (`holder`): an id belongs
   * to the container that registered it first, so a SERVICE_ID naming
   * another container's id can neither take its traffic nor deregister it
   * on removal. A new refusal is counted and logged naming the label and
   * the holder.
   */
  private claim(
    c: ContainerDescriptor,
    regs: Registration[],
    holder: (id: string) => string | undefined,
    prev: Registered | undefined,
  ): { allowed: Registration[]; refused: Refusal[] } {
    const allowed: Registration[] = [];
    const refused: Refusal[] = [];
    for (const r of regs) {
      const id = r.instance.id;
      const owner = holder(id);
      if (owner === undefined) {
        allowed.push(r);
        continue;
      }
      refused.push({ id, owner });
      if (prev?.refused.some((x) => x.id === id && x.owner === owner) === true) continue;
      this.counters.idConflicts++;
      const ownerName = this.nameOf(owner);
      const label = r.idLabel ?? 'default id';
      this.log.warn(
        { container: c.name, owner: ownerName, ownerId: owner, label, id, service: r.instance.service },
        `discovery: ${label} "${id}" of container ${c.name} refused: container ${ownerName} (${owner.slice(0, 12)}) ` +
          `holds that id; service "${r.instance.service}" of ${c.name} is not registered until the id is free`,
      );
    }
    return { allowed, refused };
  }

  private nameOf(containerId: string): string {
    return (
      this.byContainer.get(containerId)?.container.name ?? this.pendingNames.get(containerId) ?? containerId
    );
  }

  private startProber(
    containerId: string,
    id: string,
    check: CheckSpec & { kind: 'http' | 'https' | 'tcp' },
  ): Prober {
    const p = new Prober(check, (r) => void this.lock.run(() => this.onProbe(containerId, id, p, r)));
    p.start();
    return p;
  }

  private async onProbe(containerId: string, id: string, prober: Prober, r: ProbeResult): Promise<void> {
    this.counters.probes++;
    const t = this.byContainer.get(containerId)?.instances.find((x) => x.instance.id === id);
    // A result from a prober that was replaced or stopped meanwhile.
    if (t === undefined || t.prober !== prober) return;
    const before = healthOf(t);
    t.probe = r.status;
    if (healthOf(t) !== before) {
      await this.call('health', () => this.opts.catalog.setHealth(id, healthOf(t), r.output));
    }
  }

  private async setHealth(c: ContainerDescriptor, health: 'passing' | 'critical'): Promise<void> {
    const reg = this.byContainer.get(c.id);
    if (reg === undefined) return;
    for (const t of reg.instances) {
      t.runtime = health;
      const h = healthOf(t);
      await this.call('health', () =>
        this.opts.catalog.setHealth(t.instance.id, h, `berth: container ${c.health}`),
      );
    }
  }

  private async forget(containerId: string): Promise<void> {
    const reg = this.byContainer.get(containerId);
    if (reg === undefined) return;
    this.byContainer.delete(containerId);
    stopProbers(reg.instances);
    for (const id of reg.ids) await this.call('deregister', () => this.opts.catalog.deregister(id));
    // Containers refused one of these ids may have it now.
    const freed = new Set(reg.ids);
    for (const other of [...this.byContainer.values()]) {
      if (other.refused.some((r) => freed.has(r.id))) await this.onStarted(other.container);
    }
  }

  private plan(c: ContainerDescriptor): Registration[] {
    const regs = registrationsFor(c, this.opts.host);
    for (const r of regs) {
      for (const w of r.warnings) {
        this.counters.labelWarnings++;
        this.log.warn({ container: c.name, service: r.instance.service }, `discovery: ${w}`);
      }
    }
    return regs;
  }

  /** One catalog call: counted, errors logged and swallowed (the catalog queues what it can retry). */
  private async call(
    kind: 'register' | 'deregister' | 'health' | 'maintenance',
    fn: () => Promise<void>,
  ): Promise<void> {
    try {
      await fn();
      if (kind === 'register') this.counters.registered++;
      else if (kind === 'deregister') this.counters.deregistered++;
      else if (kind === 'health') this.counters.healthUpdates++;
      else this.counters.maintenance++;
    } catch (err) {
      this.counters.catalogErrors++;
      this.log.warn({ err, op: kind }, 'discovery: catalog call failed');
    }
  }
}

function stopProbers(instances: Tracked[]): void {
  for (const t of instances) t.prober?.stop();
}

function sameRegistration(a: ServiceInstance, b: ServiceInstance): boolean {
  return (
    a.service === b.service &&
    a.address === b.address &&
    a.port === b.port &&
    a.tags.length === b.tags.length &&
    a.tags.every((t, i) => t === b.tags[i]) &&
    sameMap(a.meta, b.meta)
  );
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
