import type { HealthCheckConfig } from '../health/types.js';
import type { ResolvedImage } from '../image/types.js';
import type { RestartPolicy } from '../restart/types.js';
import type { PortMapping } from '../types.js';
import type { VolumeMountRef, VolumePort } from '../volumes/types.js';
import type { Rlimit } from './parse.js';

/**
 * The spec builder's validated, normalised form of one container's config
 * (`ManagedConfig.raw`). It is stored in the container record on disk and
 * handed back to `build()` at every start, so it stays plain JSON and carries
 * a version for later migrations. Everything that depends on the rootfs or
 * the network attachment (uid lookup, netns path, /etc/hosts) is resolved at
 * build time, not here.
 */
export interface OciRaw {
  v: 1;
  args: string[];
  /** Image env overlaid with the request's, without PATH default and HOSTNAME (added at build). */
  env: string[];
  cwd: string;
  /** `uid[:gid]` or `name[:group]`; resolved against the rootfs at build. */
  user: string;
  readOnly: boolean;
  privileged: boolean;
  noNewPrivileges: boolean;
  /** Effective capability set (CAP_* names) after defaults ± add/drop. */
  caps: string[];
  /** Capabilities the user named in capAdd (not via ALL): a start fails if the host cannot grant one. */
  requestedCaps?: string[];
  seccomp: SeccompChoice;
  mounts: RawMount[];
  resources: RawResources;
  rlimits: Rlimit[];
  network: NetworkMode;
}

export type NetworkMode = 'none' | 'host' | 'bridge';

/** One network of a validated config: the user's name (`bridge` is the default network) and its aliases. */
export interface NetworkJoin {
  name: string;
  aliases: string[];
}

export type SeccompChoice =
  | { mode: 'default' }
  | { mode: 'unconfined' }
  /** A Docker-format profile read from a file at validation time, so later starts do not depend on the file. */
  | { mode: 'custom'; profile: Record<string, unknown> };

export type RawMount =
  | { kind: 'bind'; source: string; destination: string; readOnly: boolean }
  /** `anonymous`: made for this container by `-v /path`, and removed with it. */
  | { kind: 'volume'; name: string; destination: string; readOnly: boolean; anonymous?: boolean }
  | { kind: 'tmpfs'; destination: string; options: string[] };

export interface RawResources {
  memory?: number;
  /** Memory plus swap, as Docker's --memory-swap and OCI's memory.swap; -1 is unlimited. */
  memorySwap?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  /** -1 is unlimited. */
  pidsLimit?: number;
}

/**
 * The oci area's contract with the container manager (builder.ts implements
 * it). `validate` runs once at create: the request plus the image's defaults
 * become a `ManagedConfig`, stored in the container record for good; `build`
 * turns it into config.json at every start, with the facts of that start.
 */
export interface SpecPort {
  /** Validates user input merged with image defaults; throws InvalidArgumentError naming the field. */
  validate(request: unknown, image: ResolvedImage): Promise<ManagedConfig>;
  /** The OCI runtime spec (config.json) for a validated config. */
  build(config: ManagedConfig, facts: SpecFacts): Promise<Record<string, unknown>>;
  /** cgroup path (relative to each hierarchy) for a container id. */
  cgroupPath(id: string): string;
  /** Optional: forget per-container files the builder wrote (e.g. /etc/hostname); idempotent. */
  release?(id: string): Promise<void>;
  /** Optional: named volumes, and which of them a config mounts (anonymous ones go with their container). */
  volumes?: VolumePort;
  volumesOf?(config: ManagedConfig): VolumeMountRef[];
}

/** What the manager reads from a validated container config. */
export interface ManagedConfig {
  name?: string;
  image: string;
  labels: Record<string, string>;
  env: string[];
  hostname?: string;
  network: string;
  /** Networks joined in bridge mode, the first one carrying the default route; absent: the default network. */
  networks?: NetworkJoin[];
  ports: PortMapping[];
  restart: RestartPolicy;
  health?: HealthCheckConfig;
  stopSignal: string;
  stopTimeoutMs: number;
  autoRemove: boolean;
  extraHosts?: string[];
  /** The spec builder's own validated form, stored and handed back to `build`. */
  raw: unknown;
}

/** What one start knows besides the config: where the rootfs and the network ended up. */
export interface SpecFacts {
  id: string;
  rootfs: string;
  hostname: string;
  netnsPath?: string;
  networkMode: string;
  hostsPath?: string;
  resolvConfPath?: string;
  cgroupPath: string;
}
