import type { Logger } from '../../runtime/base/log.js';
import { ContainerInformer } from '../../runtime/source/informer.js';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';
import type { ContainerScope } from './server.js';

/** The labels Compose puts on a service's containers; the bare service name answers its healthy replicas. */
export const COMPOSE_SERVICE = 'com.docker.compose.service';
export const COMPOSE_PROJECT = 'com.docker.compose.project';

type Names = ReadonlyMap<string, string | readonly string[]>;

/**
 * Container names for the embedded DNS, kept current by a ContainerInformer
 * (subscribe, list, follow: a container started while the index starts
 * still resolves), scoped by the asking client as on a Compose network:
 *
 * - a client that is a container (its source address is one of a running
 *   container's) sees the names on its own networks only: container names,
 *   network aliases, and bare Compose service names (containers labelled
 *   com.docker.compose.service and .project, healthy or without a health
 *   check, every one answered, in rotating order). A container on B never
 *   resolves A's names; the address answered is the one on the shared network.
 * - any other client (the host, loopback) sees every running container's
 *   name with its first address, as before networks existed.
 *
 * Scopes are built on first use and dropped together whenever a container
 * changes, so the DNS hot path is two map lookups.
 */
export class ContainerNameIndex {
  private readonly running = new Map<string, ContainerDescriptor>();
  private readonly informer: ContainerInformer;
  private generation: object = {};
  private global: Names | undefined;
  /** Client address → the networks of the container that has it. */
  private byAddress: Map<string, string[]> | undefined;
  private readonly scopes = new Map<string, Names>();

  constructor(source: ContainerSource, logger?: Logger) {
    const put = (d: ContainerDescriptor) => {
      if (d.state === 'running' && Object.keys(d.addresses).length > 0) this.running.set(d.id, d);
      else this.running.delete(d.id);
      this.changed();
    };
    const drop = (d: ContainerDescriptor) => {
      this.running.delete(d.id);
      this.changed();
    };
    this.informer = new ContainerInformer(
      source,
      { add: put, update: put, remove: drop },
      logger ? { logger } : {},
    );
  }

  /** Every running container's name → its first address: what an unscoped client sees. */
  names(): ReadonlyMap<string, string> {
    if (!this.global) {
      const m = new Map<string, string>();
      // Oldest first, so a name two containers share (one going, one coming) keeps answering.
      for (const d of this.ordered()) {
        const addr = Object.values(d.addresses)[0];
        if (addr) m.set(d.name, addr);
      }
      this.global = m;
    }
    return this.global as ReadonlyMap<string, string>;
  }

  /** What the client at `address` may resolve (server.ts `containerScope`). */
  scope(address: string): ContainerScope {
    const networks = this.networksOf(address);
    if (networks === undefined) return { key: '', names: this.names(), generation: this.generation };
    const key = networks.join('\n');
    let names = this.scopes.get(key);
    if (!names) {
      names = this.build(networks);
      this.scopes.set(key, names);
    }
    return { key: `n:${key}`, names, generation: this.generation };
  }

  /** Resolves once the running containers are indexed; follows from then on. */
  start(): Promise<void> {
    return this.informer.start();
  }

  close(): Promise<void> {
    return this.informer.close();
  }

  private changed(): void {
    this.generation = {};
    this.global = undefined;
    this.byAddress = undefined;
    this.scopes.clear();
  }

  private ordered(): ContainerDescriptor[] {
    return [...this.running.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private networksOf(address: string): string[] | undefined {
    if (!this.byAddress) {
      const m = new Map<string, string[]>();
      for (const d of this.running.values()) {
        const nets = Object.keys(d.addresses).sort();
        for (const a of Object.values(d.addresses)) m.set(a, nets);
      }
      this.byAddress = m;
    }
    return this.byAddress.get(address);
  }

  /** The names on `networks`: container names first, then aliases and service names (every address). */
  private build(networks: string[]): Names {
    const names = new Map<string, string>();
    const shared = new Map<string, string[]>();
    const add = (name: string, addr: string) => {
      const list = shared.get(name) ?? [];
      if (!list.includes(addr)) list.push(addr);
      shared.set(name, list);
    };
    for (const d of this.ordered()) {
      // The address on the first network the client shares with it (its own order: the first carries the route).
      const net = Object.keys(d.addresses).find((n) => networks.includes(n));
      const addr = net === undefined ? undefined : d.addresses[net];
      if (net === undefined || addr === undefined) continue;
      names.set(d.name, addr);
      for (const n of Object.keys(d.addresses)) {
        const a = d.addresses[n];
        if (!networks.includes(n) || a === undefined) continue;
        for (const alias of d.aliases?.[n] ?? []) add(alias, a);
      }
      const svc = d.labels[COMPOSE_SERVICE];
      if (svc && d.labels[COMPOSE_PROJECT] && (d.health === 'healthy' || d.health === 'none')) add(svc, addr);
    }
    const out = new Map<string, string | readonly string[]>(shared);
    for (const [n, a] of names) out.set(n, a);
    return out;
  }
}
