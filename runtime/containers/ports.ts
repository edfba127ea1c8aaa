import type { ExecIO, LogLine, LogQuery } from '../runtime.js';
import type { PortMapping } from '../types.js';
import type { HealthCheckConfig, HealthProbe, ProbeResult } from './health.js';
import type { RestartPolicy } from './restart.js';

/**
 * The narrow interfaces the container manager needs from the other runtime
 * parts. The composition root adapts the concrete image store, snapshotter,
 * network manager, spec builder and executor to these, so the manager's
 * lifecycle logic does not depend on their internals.
 */

export interface ResolvedImage {
  /** Image id (config digest). */
  id: string;
  /** Normalised reference the user asked for. */
  ref: string;
  name: string;
  tag: string;
  /** OCI image config (`config` object of the image config blob). */
  config: Record<string, unknown>;
  /** Unpacked layer directories, bottom (base) layer first. */
  layerDirs: string[];
}

export interface ImagePort {
  /** Throws NotFoundError when the image is not in the store. */
  resolve(ref: string): Promise<ResolvedImage>;
}

export interface SnapshotPort {
  /** Idempotent: returns the existing snapshot for `key`. */
  prepare(key: string, layerDirs: string[]): Promise<{ rootfs: string }>;
  remove(key: string): Promise<void>;
  /** Optional: on agent start, remount what a reboot unmounted and remove snapshots not in `keep`. */
  restore?(keep: string[]): Promise<unknown>;
}

export interface NetworkAttachment {
  netnsPath?: string;
  addresses: Record<string, string>;
  hostsPath?: string;
  resolvConfPath?: string;
  ports: PortMapping[];
}

export interface NetworkPort {
  attach(
    id: string,
    req: { mode: string; hostname: string; ports: PortMapping[]; extraHosts?: string[] },
  ): Promise<NetworkAttachment>;
  /** Idempotent. */
  detach(id: string): Promise<void>;
  /** On agent start: live containers keep their attachments; leaks are freed. */
  restore(liveIds: string[]): Promise<void>;
}

/** What the manager reads from a validated container config. */
export interface ManagedConfig {
  name?: string;
  image: string;
  labels: Record<string, string>;
  env: string[];
  hostname?: string;
  network: string;
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
  volumesOf?(config: ManagedConfig): Array<{ name: string; anonymous: boolean }>;
}

export interface StoredVolumeInfo {
  name: string;
  mountpoint: string;
  createdAt: string;
}

export interface VolumePort {
  list(): Promise<StoredVolumeInfo[]>;
  get(name: string): Promise<StoredVolumeInfo>;
  /** Idempotent; InvalidArgumentError on a bad name. */
  create(name: string): Promise<StoredVolumeInfo>;
  /** NotFoundError when it does not exist. */
  remove(name: string): Promise<void>;
  /** Finishes removals a crash interrupted; run once at start. */
  sweep?(): Promise<void>;
}

export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  signal?: string;
  finishedAt: string;
}

export interface ExecutorPort {
  /** Creates the container (monitor + OCI create); output goes to `logPath`. Returns the init pid. */
  create(id: string, bundleDir: string, opts: { logPath: string }): Promise<{ pid: number }>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  /** Resolves when the container exits (also when it had already exited). */
  wait(id: string): Promise<ExitInfo>;
  /** Removes the OCI runtime's and the monitor's state; idempotent. */
  delete(id: string): Promise<void>;
  /** `io` relays the command's streams as they come (its signal kills it); `signal` alone bounds a probe. */
  exec(
    id: string,
    req: { cmd: string[]; env?: string[]; user?: string; workdir?: string; outputLimit?: number },
    signal?: AbortSignal,
    io?: ExecIO,
  ): Promise<{
    exitCode: number;
    stdout: string;
    stderr: string;
  }>;
  /**
   * Live restore: what on-disk state says about a container after an agent
   * restart. `created`: the OCI runtime created it and nobody started it (its
   * init waits); the caller deletes or starts it.
   */
  adopt(
    id: string,
  ): Promise<
    | { status: 'running'; pid: number }
    | { status: 'created'; pid: number }
    | { status: 'exited'; exit: ExitInfo }
    | { status: 'missing' }
  >;
}

export interface LogPort {
  read(logPath: string, query: LogQuery): AsyncIterable<LogLine>;
}

export type { HealthProbe, ProbeResult };
