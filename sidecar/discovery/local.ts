import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../runtime/base/atomic-file.js';
import {
  FailedPreconditionError,
  InternalError,
  messageOf,
  NotFoundError,
} from '../../runtime/base/errors.js';
import type { SubscribeOptions } from '../../runtime/base/events.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import { checkVersion, stampVersion } from '../../runtime/base/versioned.js';
import type { Catalog, CatalogView, ServiceInstance } from './types.js';
import { copyInstance, validateCheckHealth, validateInstance } from './validate.js';
import { ViewFeed } from './view-feed.js';

export interface LocalCatalogOptions {
  /** This host's node name; instances registered with it are `owned()`. */
  nodeName: string;
  /** Filled into instances that do not name one. */
  datacenter?: string;
  /** Filled into instances of this node that do not carry one. */
  nodeAddress?: string;
  /** JSON file the catalog is kept in (written atomically on every change); in memory only without it. */
  path?: string;
}

/** What the catalog keeps per instance: the check status and maintenance are separate, as in Consul. */
interface Entry {
  instance: ServiceInstance;
  checkHealth: 'passing' | 'warning' | 'critical';
  output?: string;
  maintenance: boolean;
  maintenanceReason?: string;
}

/** The catalog file's format (`schemaVersion`); one without it is version 1. */
export const CATALOG_FILE_VERSION = 1;

interface FileFormat {
  /** Kept as releases before schemaVersion wrote it: they refuse a file without it. */
  version: 1;
  entries: Entry[];
}

/**
 * The embedded catalog for a single host with nothing else installed. Changes
 * apply in memory at once (so `view()` and DNS see them immediately) and are
 * then persisted; a write resolves once it is on disk.
 */
export class LocalCatalog implements Catalog {
  private readonly entries = new Map<string, Entry>();
  private readonly feed: ViewFeed;
  private readonly persisting = new Mutex();
  private closed = false;

  constructor(private readonly opts: LocalCatalogOptions) {
    if (opts.path !== undefined) this.load(opts.path);
    this.feed = new ViewFeed({ instances: this.instances(), stale: false });
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    validateInstance(instance);
    const inst = copyInstance(instance);
    if (inst.datacenter === undefined && this.opts.datacenter !== undefined)
      inst.datacenter = this.opts.datacenter;
    if (
      inst.nodeAddress === undefined &&
      inst.node === this.opts.nodeName &&
      this.opts.nodeAddress !== undefined
    ) {
      inst.nodeAddress = this.opts.nodeAddress;
    }
    const prev = this.entries.get(inst.id);
    const checkHealth = inst.health === 'maintenance' ? (prev?.checkHealth ?? 'passing') : inst.health;
    const entry: Entry = {
      instance: inst,
      checkHealth,
      maintenance: inst.health === 'maintenance' || (prev?.maintenance ?? false),
    };
    if (prev?.maintenanceReason !== undefined) entry.maintenanceReason = prev.maintenanceReason;
    this.entries.set(inst.id, entry);
    await this.changed();
  }

  async deregister(id: string): Promise<void> {
    this.assertOpen();
    if (!this.entries.delete(id)) return;
    await this.changed();
  }

  async setMaintenance(id: string, enabled: boolean, reason?: string): Promise<void> {
    this.assertOpen();
    const e = this.get(id);
    e.maintenance = enabled;
    if (enabled && reason !== undefined) e.maintenanceReason = reason;
    else delete e.maintenanceReason;
    await this.changed();
  }

  async setHealth(id: string, health: ServiceInstance['health'], output?: string): Promise<void> {
    this.assertOpen();
    validateCheckHealth(health);
    const e = this.get(id);
    e.checkHealth = health;
    if (output !== undefined) e.output = output;
    await this.changed();
  }

  async owned(): Promise<ServiceInstance[]> {
    return this.instances().filter((i) => i.node === this.opts.nodeName);
  }

  view(): CatalogView {
    return this.feed.view;
  }

  watch(opts?: SubscribeOptions): AsyncIterable<CatalogView> {
    return this.feed.watch(opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.feed.close();
    await this.persisting.drain();
  }

  private get(id: string): Entry {
    const e = this.entries.get(id);
    if (e === undefined) throw new NotFoundError(`service instance "${id}" is not registered`);
    return e;
  }

  private assertOpen(): void {
    if (this.closed) throw new FailedPreconditionError('local catalog is closed');
  }

  private instances(): ServiceInstance[] {
    return [...this.entries.values()].map((e) => ({
      ...copyInstance(e.instance),
      health: e.maintenance ? 'maintenance' : e.checkHealth,
    }));
  }

  private async changed(): Promise<void> {
    this.feed.update(this.instances(), false);
    const path = this.opts.path;
    if (path === undefined) return;
    // Serialise writes and always write the newest state: each link snapshots
    // the entries when it runs, so a burst of changes costs few writes.
    const run = this.persisting.run(() => {
      const data: FileFormat = { version: 1, entries: [...this.entries.values()] };
      const text = `${JSON.stringify(stampVersion(data, CATALOG_FILE_VERSION), null, 2)}\n`;
      return writeFileAtomic(path, text, { mode: 0o600, mkdir: true });
    });
    try {
      await run;
    } catch (err) {
      throw new InternalError(`local catalog: cannot write ${path}: ${messageOf(err)}`, { cause: err });
    }
  }

  private load(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new InternalError(`local catalog: cannot read ${path}: ${messageOf(err)}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InternalError(`local catalog: ${path} is not valid JSON: ${messageOf(err)}`, { cause: err });
    }
    // A newer file is refused at start (the catalog is not built, so nothing overwrites it).
    checkVersion(parsed, { file: `local catalog ${path}`, current: CATALOG_FILE_VERSION });
    const file = parsed as Partial<FileFormat>;
    if (file.version !== 1 || !Array.isArray(file.entries)) {
      throw new InternalError(`local catalog: ${path} is not a berth catalog file (version 1)`);
    }
    for (const e of file.entries) {
      validateInstance(e.instance);
      this.entries.set(e.instance.id, e);
    }
  }
}
