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
