import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '../../runtime/base/log.js';
import {
  loadServiceDir,
  ServiceDirWatcher,
  type ServiceLoad,
} from '../../runtime/source/observe/services.js';
import type { Catalog, ServiceInstance } from '../../sidecar/discovery/types.js';
import type { AgentConfig } from './config.js';

/**
 * `servicesDir`: services declared in files (Consul's service-definition
 * format, runtime/source/observe/services.ts) kept registered in the
 * catalog, for observe mode where no container carries berth's labels. The
 * registrar owns every instance of this node it did not plan and removes it
 * as stale, so it is handed a view of the catalog without these (`wrap`).
 */
export class ServiceFiles {
  /** Ids registered from the files (and, before the first register, the ids the files name). */
  private readonly mine = new Set<string>();
  private readonly applied = new Map<string, string>();
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
      want.set(s.id, {
        id: s.id,
        service: s.name,
        tags: s.tags,
        meta: s.meta,
        address: s.address ?? this.address,
        port: s.port,
        node: this.nodeName,
        health: 'passing',
      });
    }
    for (const id of [...this.mine]) {
      if (want.has(id)) continue;
      // A service whose file went: deregistered, then no longer hidden from the registrar.
      if (this.applied.has(id)) await catalog.deregister(id).catch((err: unknown) => this.fail(id, err));
      this.applied.delete(id);
      this.mine.delete(id);
    }
    for (const [id, inst] of want) {
      this.mine.add(id);
      const key = JSON.stringify(inst);
      if (this.applied.get(id) === key) continue;
      try {
        await catalog.register(inst);
        this.applied.set(id, key);
      } catch (err) {
        this.fail(id, err);
      }
    }
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
