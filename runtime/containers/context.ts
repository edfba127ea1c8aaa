import { join } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import type { EventExchange } from '../base/events.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/log.js';
import type { ExecutorPort, LogPort } from '../exec/types.js';
import type { NetworkProber } from '../health/types.js';
import type { ImageOps, ImagePort } from '../image/types.js';
import type { NetworkPort } from '../network/types.js';
import type { SpecPort } from '../oci/types.js';
import type { RestartBackoff } from '../restart/policy.js';
import type { SnapshotPort } from '../snapshot/types.js';
import type { ContainerDescriptor, ContainerEvent, ContainerTopic, RuntimeEvent } from '../types.js';
import { type ContainerRecord, RecordStore } from './record.js';
import { type LifecycleEvent, transition } from './state.js';

export interface ContainerManagerDeps {
  stateRoot: string;
  runDir: string;
  images: ImagePort;
  imageOps: ImageOps;
  snapshots: SnapshotPort;
  network: NetworkPort;
  spec: SpecPort;
  executor: ExecutorPort;
  logs: LogPort;
  events: EventExchange<RuntimeEvent>;
  logger: Logger;
  /** Runs a health probe of kind http/tcp against a container address; cmd probes use the executor. */
  probeNetwork?: NetworkProber;
  backoff?: RestartBackoff;
  /** Called before a stop signal is sent (drain in discovery and HAProxy); bounded by `preStopTimeoutMs`. */
  preStopHooks?: Array<(d: ContainerDescriptor) => Promise<void>>;
  preStopTimeoutMs?: number;
  /**
   * Test hook (BERTH_TEST_CRASH_AT): the agent SIGKILLs itself at this point of
   * a container start, so a test can see what the next agent makes of it.
   * Unset in production; nothing else reads it.
   */
  testCrashAt?: CrashPoint;
}

/** Where BERTH_TEST_CRASH_AT may stop a start: after the OCI runtime created the container, or started it. */
export const CRASH_POINTS = ['after-runc-create', 'after-runc-start'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/**
 * What the manager's parts share: the records by id (every read path), their
 * store on disk, the per-container lock, the state machine and the event
 * exchange. Lives as long as the manager.
 */
export class ContainerContext {
  /** Every container a reader can see, by id. A --rm one leaves it at its exit. */
  readonly records = new Map<string, ContainerRecord>();
  readonly store: RecordStore;
  /** Operations on one container are serialised; different containers proceed in parallel. */
  private readonly locks = new KeyedMutex<string>();
  /**
   * Containers whose OCI runtime and network state were already released after
   * their exit; a later remove skips those steps (each costs a child process).
   */
  readonly released = new Set<string>();
  /**
   * --rm containers that are gone for every reader (list, name, id) while their
   * host state (runtime, netns, mount, files) is still being freed, by id.
   */
  readonly cleaning = new Map<string, Promise<void>>();
  closed = false;

  constructor(readonly d: ContainerManagerDeps) {
    this.store = new RecordStore(join(d.stateRoot, 'containers'), d.logger);
  }

  get logger(): Logger {
    return this.d.logger;
  }

  locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /** Changes `rec.state` by the state machine's table; an illegal event throws (and is logged). */
  transition(rec: ContainerRecord, event: LifecycleEvent): void {
    transition(rec, event, this.d.logger);
  }

  byName(name: string): ContainerRecord | undefined {
    for (const r of this.records.values()) if (r.name === name) return r;
    return undefined;
  }

  /** By full id, name, or unique id prefix (as Docker resolves them). */
  find(idOrName: string): ContainerRecord {
    const key = idOrName.replace(/^\//, '');
    const exact = this.records.get(key) ?? this.byName(key);
    if (exact) return exact;
    if (/^[0-9a-f]{1,64}$/.test(key)) {
      const matches = [...this.records.values()].filter((r) => r.id.startsWith(key));
      if (matches.length === 1 && matches[0]) return matches[0];
      if (matches.length > 1)
        throw new InvalidArgumentError(`container: id prefix ${key} is ambiguous`, { field: 'container' });
    }
    throw new NotFoundError(`no such container: ${idOrName}`);
  }

  publish(topic: ContainerTopic, rec: ContainerRecord, extra: Partial<ContainerEvent> = {}): void {
    this.d.events.publish(topic, { container: this.describe(rec), ...extra });
  }

  describe(rec: ContainerRecord): ContainerDescriptor {
    const env: Record<string, string> = {};
    for (const kv of rec.config.env) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return {
      id: rec.id,
      name: rec.name,
      image: rec.image.ref,
      imageName: rec.image.name,
      imageTag: rec.image.tag,
      imageId: rec.image.id,
      labels: rec.config.labels,
      env,
      state: rec.state,
      ports: rec.ports,
      addresses: rec.network?.addresses ?? {},
      ...(rec.network?.aliases ? { aliases: rec.network.aliases } : {}),
      networkMode: rec.config.network,
      ...(rec.pid ? { pid: rec.pid } : {}),
      cgroupPath: this.d.spec.cgroupPath(rec.id),
      ...(rec.network?.netnsPath ? { netnsPath: rec.network.netnsPath } : {}),
      logPath: rec.logPath,
      health: rec.health,
      createdAt: rec.createdAt,
      ...(rec.startedAt ? { startedAt: rec.startedAt } : {}),
      ...(rec.finishedAt ? { finishedAt: rec.finishedAt } : {}),
      ...(rec.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
      ...(rec.oomKilled ? { oomKilled: true } : {}),
      restartCount: rec.restartCount,
      source: 'berth',
    };
  }
}

/** Milliseconds spent in each named phase of an operation, for debug logs. */
export class Phases {
  private last = performance.now();
  private readonly ms: Record<string, number> = {};

  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }

  done(): Record<string, number> {
    return this.ms;
  }
}
