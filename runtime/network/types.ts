import type { Logger } from '../base/log.js';
import type { ContainerDescriptor, PortMapping } from '../types.js';
import type { CommandRunner } from './exec.js';
import type { PortProbe } from './hostports.js';
import type { SysctlWriter } from './sysctl.js';

export const NETWORK_MODES = ['bridge', 'host', 'none'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

export interface BridgeNetworkOptions {
  /** Where IPAM (`ipam.json`) and per-container files (`<id>/`) live. */
  stateDir: string;
  /** Bridge interface name (≤15 chars). Default `berth0`. */
  bridge?: string;
  /** IPv4 subnet of the bridge; the gateway is its first address. Default `10.88.0.0/16`. */
  subnet?: string;
  /**
   * What a bridge container's resolv.conf points at. Default: the gateway,
   * where berth's embedded DNS listens. `host`: the host's nameservers, read
   * at each attach, less the loopback ones (in the container they would be
   * its own loopback). An empty list writes no nameserver.
   */
  dnsServers?: string[] | 'host';
  /**
   * Search domains put before the host's in a bridge container's resolv.conf:
   * the agent passes the embedded DNS's domain, so `web` finds the container
   * named web (`web.consul.`) and `db.service` the service. Default none.
   */
  dnsSearch?: string[];
  logger: Logger;
  /** Where user-defined networks get their subnets (default `10.89.0.0/16`), one `/networkPoolPrefix` (24) each. */
  networkPool?: string;
  networkPoolPrefix?: number;
  /** Runs `ip` and `iptables`; default spawns child processes. */
  runner?: CommandRunner;
  /** Sets `ip_forward` and the bridge's `route_localnet`; default writes /proc/sys. */
  sysctl?: SysctlWriter;
  /** Checks (and for hostPort 0 picks) a free host port; default binds a socket for a moment (hostports.ts). */
  probePort?: PortProbe;
  /** `iptables` binary (e.g. `iptables-legacy`). Default `iptables`. */
  iptables?: string;
  /** The host's resolver config and hosts file (copied for `host`, search/options for the others). */
  hostResolvConf?: string;
  hostHosts?: string;
}

/**
 * What berth remembers about one container's attachment, in
 * `<stateDir>/<id>/network.json`. Written before any host state is created so
 * that a crash mid-attach leaves a record that `restore` can undo.
 */
export interface AttachmentRecord {
  id: string;
  mode: NetworkMode;
  bridge: string;
  netns?: string;
  veth?: string;
  address?: string;
  ports: PortMapping[];
  /**
   * Every network the container joined, the first carrying the default route
   * and published ports (bridge, veth and address above repeat the first).
   * Absent in records of releases before user-defined networks: one link on
   * the default network then.
   */
  links?: LinkRecord[];
}

/** One network of a container: a veth pair into that network's bridge. */
export interface LinkRecord {
  /** The user's name (`bridge` for the default network). */
  network: string;
  bridge: string;
  /** Host end (`vb<id12>` for the first link, `vb<id12><k>` after). */
  veth: string;
  /** The interface inside the container (`eth0`, `eth1`, …). */
  ifname: string;
  /** Set once IPAM handed one out (a crash before leaves a link without). */
  address?: string;
  aliases: string[];
}

/** One network to join (the create request's `networks`). */
export interface NetworkJoinRequest {
  name: string;
  aliases?: string[];
}

/**
 * The network area's contract with the container manager (bridge.ts
 * implements it). A container is `attach`ed at each start (netns, veth,
 * address, published ports, /etc/hosts and resolv.conf) and `detach`ed at its
 * exit or removal; `restore` runs once at agent start.
 */
export interface NetworkPort {
  /** Sets up the container's network for `mode` (bridge, host, none); its record is written first. */
  attach(
    id: string,
    req: {
      mode: string;
      hostname: string;
      ports: PortMapping[];
      extraHosts?: string[];
      /** Bridge mode: the networks to join, in order (default: the default network alone). */
      networks?: NetworkJoinRequest[];
    },
  ): Promise<NetworkAttachment>;
  /** Frees what `attach` set up. Idempotent. */
  detach(id: string): Promise<void>;
  /** On agent start: live containers keep their attachments; leaks are freed. */
  restore(liveIds: string[]): Promise<void>;
  /** Joins a running container to one more network (a new interface at once). */
  connect?(id: string, network: string, aliases?: string[]): Promise<NetworkAttachment>;
  /** Takes a running container off a network. */
  disconnect?(id: string, network: string): Promise<NetworkAttachment>;
  /** NotFound when there is no such network (checked before a stopped container's config names it). */
  inspectNetwork?(name: string): Promise<unknown>;
}

/** What a container got from `attach`; kept in its container record. */
export interface NetworkAttachment {
  netnsPath?: string;
  /** Addresses by network name (`bridge` → `10.88.0.5`). */
  addresses: Record<string, string>;
  /** Aliases by network name, for networks where the container has any (the embedded DNS answers them). */
  aliases?: Record<string, string[]>;
  hostsPath?: string;
  resolvConfPath?: string;
  /** The published ports with the host ports actually bound (an ephemeral `0` resolved). */
  ports: PortMapping[];
}

/**
 * The network verbs as the API serves them (`/v1/networks`): the agent
 * joins BridgeNetworkManager's (create, list, inspect, rm, prune) with the
 * container manager's connect/disconnect, which keep the container record
 * current. `containers` of a network carry ids; the API adds names.
 */
export interface NetworkVerbs {
  createNetwork(req: NetworkCreateRequest): Promise<NetworkInfo>;
  listNetworks(): Promise<NetworkInfo[]>;
  inspectNetwork(name: string): Promise<NetworkInfo>;
  removeNetwork(name: string): Promise<void>;
  pruneNetworks(): Promise<string[]>;
  /** Resolves the container by id or name; answers its descriptor with the new addresses. */
  connect(container: string, network: string, aliases: string[]): Promise<ContainerDescriptor>;
  disconnect(container: string, network: string): Promise<ContainerDescriptor>;
}

/** A user-defined network as stored and as `berth network inspect` shows it (without its containers). */
export interface NetworkDef {
  /** 64 hex characters, random. */
  id: string;
  name: string;
  driver: 'bridge';
  /** `bn-<12 hex>`. */
  bridge: string;
  subnet: string;
  gateway: string;
  /** No traffic leaves or enters the network (no NAT, no published ports). */
  internal: boolean;
  labels: Record<string, string>;
  createdAt: string;
  /** Set before removal starts: a crash mid-removal is finished by the next restore, never left half-done. */
  removing?: boolean;
}

/** `berth network create` / `POST /v1/networks`. */
export interface NetworkCreateRequest {
  name: string;
  /** CIDR; default: the next free subnet of the pool. */
  subnet?: string;
  /** A host address of the subnet; default its first. */
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
}

/** A network as `berth network ls/inspect` shows it: its definition and the running containers on it. */
export interface NetworkInfo extends Omit<NetworkDef, 'removing'> {
  /** The default network (`bridge`): not created or removed by users. */
  builtin?: boolean;
  containers: Array<{ id: string; address?: string; aliases: string[] }>;
}
