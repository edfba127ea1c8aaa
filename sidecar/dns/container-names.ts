import type { Logger } from '../../runtime/base/log.js';
import { ContainerInformer } from '../../runtime/source/informer.js';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';

/**
 * Container name → bridge address of running containers, kept current by a
 * ContainerInformer (subscribe, list, follow: a container started while the
 * index starts still resolves), so the DNS server answers `<name>.<domain>`
 * without awaiting anything on its hot path.
 */
export class ContainerNameIndex {
  private readonly map = new Map<string, string>();
  /** Which id holds each name, so a removed container never takes a newer one's name with it. */
  private readonly owner = new Map<string, string>();
  private readonly informer: ContainerInformer;

  constructor(source: ContainerSource, logger?: Logger) {
    const put = (d: ContainerDescriptor) => {
      const addr = Object.values(d.addresses)[0];
      if (d.state === 'running' && addr) {
        this.map.set(d.name, addr);
        this.owner.set(d.name, d.id);
      } else drop(d);
    };
    const drop = (d: ContainerDescriptor) => {
      if (this.owner.get(d.name) !== d.id) return;
      this.map.delete(d.name);
      this.owner.delete(d.name);
    };
    this.informer = new ContainerInformer(
      source,
      { add: put, update: put, remove: drop },
      logger ? { logger } : {},
    );
  }

  names(): ReadonlyMap<string, string> {
    return this.map;
  }

  /** Resolves once the running containers are indexed; follows from then on. */
  start(): Promise<void> {
    return this.informer.start();
  }

  close(): Promise<void> {
    return this.informer.close();
  }
}
