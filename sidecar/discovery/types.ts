import type { SubscribeOptions } from '../../runtime/base/events.js';

/** One registered instance of a service, as the catalog holds it. */
export interface ServiceInstance {
  /** Unique id (Registrator style: `<host>:<container-name>:<port>` by default). */
  id: string;
  /** Service name (`web`). */
  service: string;
  tags: string[];
  meta: Record<string, string>;
  /** IPv4/IPv6 address clients should connect to. */
  address: string;
  port: number;
  /** Node (host) the instance runs on. */
  node: string;
  /**
   * The node's own address, when the catalog knows it (Consul does). DNS needs
   * it to answer `<node>.node.<domain>` for every node and to pick SRV targets
   * the way Consul does (node name when the instance uses the node address).
   */
  nodeAddress?: string;
  /** Datacenter, when the catalog knows one. */
  datacenter?: string;
  health: 'passing' | 'warning' | 'critical' | 'maintenance';
  /** Container id of the backing container when registered by berth. */
  containerId?: string;
}

export interface CatalogView {
  /** Monotonic version of the view; bumps on every change. */
  index: number;
  instances: ServiceInstance[];
  /** True when the view could not be refreshed from its source (e.g. Consul down). */
  stale: boolean;
}

/**
 * The catalog of service instances that discovery writes and DNS and HAProxy
 * read, so that what DNS answers and what HAProxy routes to agree by
 * construction. Two implementations share one conformance suite: Consul and
 * the local (embedded) catalog.
 */
export interface Catalog {
  register(instance: ServiceInstance): Promise<void>;
  deregister(id: string): Promise<void>;
  /** Set or clear maintenance (drain) for one instance. */
  setMaintenance(id: string, enabled: boolean, reason?: string): Promise<void>;
  /** Update the health of one instance (e.g. a TTL check fed by the runtime). */
  setHealth(id: string, health: ServiceInstance['health'], output?: string): Promise<void>;
  /** Instances registered by this node (for reconciliation). */
  owned(): Promise<ServiceInstance[]>;
  /** The current local view: never waits on a remote store. */
  view(): CatalogView;
  /** Views as they change; each yields the full view. */
  watch(opts?: SubscribeOptions): AsyncIterable<CatalogView>;
  close(): Promise<void>;
}
