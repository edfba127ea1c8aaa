import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '../../runtime/base/log.js';
import {
  loadServiceDir,
  type ServiceCheck,
  ServiceDirWatcher,
  type ServiceLoad,
} from '../../runtime/source/observe/services.js';
import type { CheckStatus, ProbedCheck } from '../../sidecar/discovery/checks.js';
import { type ProbeResult, Prober } from '../../sidecar/discovery/probe.js';
import type { Catalog, ServiceInstance } from '../../sidecar/discovery/types.js';
import type { AgentConfig } from './config.js';

/**
 * `servicesDir`: services declared in files (Consul's service-definition
 * format, runtime/source/observe/services.ts) kept registered in the
 * catalog, for observe mode where no container carries berth's labels. The
 * registrar owns every instance of this node it did not plan and removes it
 * as stale, so it is handed a view of the catalog without these (`wrap`).
 * A service's http and tcp checks run here (the discovery sidecar's prober,
 * Consul's semantics); its health is the worst of their latest results.
 */
export class ServiceFiles {
  /** Ids registered from the files (and, before the first register, the ids the files name). */
  private readonly mine = new Set<string>();
  private readonly applied = new Map<string, string>();
  /** Per service with checks: its probers, their latest results, and the health last written. */
  private readonly probes = new Map<
    string,
    {
      key: string;
      probers: Prober[];
      results: ProbeResult[];
      written: ServiceInstance['health'];
      started: boolean;
    }
  >();
  /** Health writes in the order the probes answered. */
  private writes: Promise<void> = Promise.resolve();
  private watcher: ServiceDirWatcher | undefined;
  private readonly nodeName: string;
  private readonly address: string;

  constructor(
    private readonly dir: string,
    cfg: Pick<AgentConfig, 'nodeName' | 'hostIp'>,
    private readonly logger: Logger,
  ) {
    this.nodeName = cfg.nodeName ?? hostname();
    this.address = cfg.hostIp ?? primaryIpv4();
  }

  /** Reads the directory once, before the registrar starts, so its first reconcile leaves these ids alone. */
  async prime(): Promise<void> {
    for (const s of (await loadServiceDir(this.dir)).services) this.mine.add(s.id);
  }

  /** `catalog` as the registrar should see it: the file services are not its own. */
  readonly wrap = (catalog: Catalog): Catalog => ({
    register: (i) => catalog.register(i),
    deregister: (id) => catalog.deregister(id),
    setMaintenance: (id, on, reason) => catalog.setMaintenance(id, on, reason),
    setHealth: (id, h, out) => catalog.setHealth(id, h, out),
    owned: async () => (await catalog.owned()).filter((i) => !this.mine.has(i.id)),
    view: () => catalog.view(),
    watch: (o) => catalog.watch(o),
    close: () => catalog.close(),
  });

  /** Registers what the files declare and follows the directory. */
  async start(catalog: Catalog): Promise<void> {
    this.watcher = new ServiceDirWatcher(this.dir, (load) => this.apply(catalog, load), {
      logger: this.logger,
    });
    await this.watcher.start();
  }

  /** Stops following; the registrations stay (as a container's stay across an agent restart). */
  async close(): Promise<void> {
    await this.watcher?.close();
    for (const p of this.probes.values()) for (const pr of p.probers) pr.stop();
    this.probes.clear();
    await this.writes;
  }

  private async apply(catalog: Catalog, load: ServiceLoad): Promise<void> {
    for (const e of load.errors) this.logger.warn({ dir: this.dir }, `services: ${e}`);
    const want = new Map<string, ServiceInstance>();
    for (const s of load.services) {
      if (s.ignored.length > 0) {
        this.logger.warn(
          { file: s.file, service: s.id, ignored: s.ignored },
          'services: keys berth does not act on (a check is not run: the instance is registered passing)',
        );
      }
      const inst: ServiceInstance = {
        id: s.id,
        service: s.name,
        tags: s.tags,
        meta: s.meta,
        address: s.address ?? this.address,
        port: s.port,
        node: this.nodeName,
        health: 'passing',
      };
      inst.health = this.follow(catalog, s.id, s.checks);
      want.set(s.id, inst);
    }
    for (const id of [...this.mine]) {
      if (want.has(id)) continue;
      // A service whose file went: deregistered, then no longer hidden from the registrar.
      if (this.applied.has(id)) await catalog.deregister(id).catch((err: unknown) => this.fail(id, err));
      this.applied.delete(id);
      this.mine.delete(id);
      this.unfollow(id);
    }
    for (const [id, inst] of want) {
      this.mine.add(id);
      // The health follows the probes (setHealth): only a change of the definition registers again.
      const key = JSON.stringify({ ...inst, health: undefined, checks: this.probes.get(id)?.key });
      if (this.applied.get(id) === key) continue;
      try {
        await catalog.register(inst);
        this.applied.set(id, key);
      } catch (err) {
        this.fail(id, err);
      }
    }
    for (const e of this.probes.values()) {
      if (e.started) continue;
      e.started = true;
      for (const p of e.probers) p.start();
    }
  }

  /**
   * Runs `checks` for service `id` (again only when they changed) and
   * returns its health now: the worst latest result, the checks' initial
   * status before their first, passing without checks.
   */
  private follow(catalog: Catalog, id: string, checks: ServiceCheck[]): ServiceInstance['health'] {
    const key = JSON.stringify(checks);
    const cur = this.probes.get(id);
    if (cur?.key === key) return cur.written;
    this.unfollow(id);
    if (checks.length === 0) return 'passing';
    const results: ProbeResult[] = checks.map((c) => ({ status: c.status, output: 'not run yet' }));
    const entry = { key, probers: [] as Prober[], results, written: worst(results), started: false };
    this.probes.set(id, entry);
    entry.probers = checks.map(
      (c, i) =>
        new Prober(probed(c), (r) => {
          if (this.probes.get(id) !== entry) return;
          entry.results[i] = r;
          const health = worst(entry.results);
          if (health === entry.written) return;
          entry.written = health;
          const output = entry.results.map((x) => x.output).join('\n');
          this.writes = this.writes.then(() =>
            catalog.setHealth(id, health, output).catch((err: unknown) => this.fail(id, err)),
          );
        }),
    );
    // Started by `apply` once the instance is registered: a result before that would have nothing to update.
    return entry.written;
  }

  private unfollow(id: string): void {
    for (const p of this.probes.get(id)?.probers ?? []) p.stop();
    this.probes.delete(id);
  }

  private fail(id: string, err: unknown): void {
    this.logger.warn({ err, service: id }, 'services: catalog write failed; retried on the next change');
  }
}

/** The host's first non-internal IPv4 (Consul registers a service without an address at its node's). */
function primaryIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const RANK: Record<CheckStatus, number> = { passing: 0, warning: 1, critical: 2 };

function worst(results: ProbeResult[]): CheckStatus {
  return results.reduce<CheckStatus>((w, r) => (RANK[r.status] > RANK[w] ? r.status : w), 'passing');
}

/** A file's check as the discovery sidecar's prober runs it. */
function probed(c: ServiceCheck): ProbedCheck {
  const timing = { interval: c.interval, ...(c.timeout ? { timeout: c.timeout } : {}) };
  if (c.kind === 'tcp') return { kind: 'tcp', address: c.target, ...timing };
  return {
    kind: c.target.startsWith('https:') ? 'https' : 'http',
    url: c.target,
    ...timing,
    ...(c.method ? { method: c.method } : {}),
  };
}
