import type { Envelope, SubscribeOptions } from './base/events.js';

/**
 * What the runtime tells the rest of berth about a container. Sidecars read
 * only descriptors and events (through a `ContainerSource`), never runtime
 * internals, so the same sidecars work over berth's own runtime and over the
 * observe-mode source that discovers external containers.
 */
export interface ContainerDescriptor {
  /** Full 64-hex id. */
  id: string;
  /** Name without a leading slash. */
  name: string;
  /** Image reference as the user gave it (`busybox:latest`, `reg:5000/app@sha256:…`). */
  image: string;
  /** Repository part of the reference (`busybox`, `reg:5000/app`). */
  imageName: string;
  /** Tag part (`latest`), or '' when the reference is by digest only. */
  imageTag: string;
  /** Content digest of the image config (`sha256:…`) when known. */
  imageId?: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  state: ContainerState;
  /** Published ports. */
  ports: PortMapping[];
  /** Addresses on networks, keyed by network name (`bridge` → `10.88.0.5`). */
  addresses: Record<string, string>;
  /** Network aliases, keyed by network name (only networks where it has some; the embedded DNS answers them). */
  aliases?: Record<string, string[]>;
  networkMode: 'none' | 'host' | 'bridge' | string;
  /** Host pid of the container's init process while running. */
  pid?: number;
  /**
   * cgroup path relative to each hierarchy's mount point, e.g.
   * `/berth/<id>`. On v1 the same relative path is used under every
   * controller; on v2 it is relative to the unified mount.
   */
  cgroupPath?: string;
  /** `/proc/<pid>/ns/net` or a bind-mounted netns file; absent for host/none. */
  netnsPath?: string;
  /** Where the runtime's monitor writes the container's output (see sidecar/logs). */
  logPath?: string;
  /**
   * The format of the file at `logPath`: conmon's k8s-file, which is the CRI
   * log format (the default when absent), or Docker's json-file (observe mode).
   */
  logFormat?: 'k8s-file' | 'json-file';
  health: HealthStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** True when the kernel OOM-killed the container's init. */
  oomKilled?: boolean;
  restartCount: number;
  /** Where the descriptor came from: berth's runtime or an observed external engine. */
  source: 'berth' | 'docker' | 'cri' | 'cgroup';
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';
export type HealthStatus = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface PortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** 0.0.0.0 / 127.0.0.1 / '' when not published */
  hostIp: string;
  /** 0 when not published */
  hostPort: number;
}

export type ContainerTopic =
  | 'container.created'
  | 'container.started'
  | 'container.healthy'
  | 'container.unhealthy'
  | 'container.stopping'
  | 'container.died'
  | 'container.removed'
  /** A running or stopped container joined / left a network (`berth network connect`/`disconnect`). */
  | 'container.connected'
  | 'container.disconnected';
export type ImageTopic = 'image.pulled' | 'image.loaded' | 'image.tagged' | 'image.removed';

export interface ContainerEvent {
  /** The descriptor as of the event (for `removed`, the last one). */
  container: ContainerDescriptor;
  /** For `died`: exit code; for `stopping`: the grace period in ms. */
  exitCode?: number;
  signal?: string;
  graceMs?: number;
}

export interface ImageEvent {
  ref: string;
  id: string;
}

export type RuntimeEvent = ContainerEvent | ImageEvent;

/**
 * Descriptors plus events: what every sidecar consumes. Implementations:
 * berth's runtime, and the observe-mode source (later); each passes the
 * conformance suite in test/harness/source-conformance.ts. The contract a
 * consumer relies on: a subscription is live as soon as `events()` returns
 * (before the first `next()`), so subscribing and then listing misses
 * nothing; events of one container come in order; a subscriber that falls
 * behind its buffer gets `Unavailable` and must list again. Consumers follow
 * a source through `ContainerInformer` (runtime/source/informer.ts), which
 * does exactly that, rather than by hand.
 */
export interface ContainerSource {
  list(opts?: { all?: boolean }): Promise<ContainerDescriptor[]>;
  get(idOrName: string): Promise<ContainerDescriptor>;
  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>>;
}
