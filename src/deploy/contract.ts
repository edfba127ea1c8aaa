import type { ComposeService, ComposeUpdateConfig } from '../compose/types.js';

/**
 * The seam between the reconciler (src/deploy/reconciler*.ts: desired vs
 * actual, scale, heal, order, orphans) and the rolling update
 * (src/deploy/rollout*.ts: replace replicas of one service with care). The
 * reconciler implements ReplicaOps over the container manager and the
 * sidecars; the rollout drives them. Kept in one small file so each side can
 * be built and tested without the other (the rollout's unit tests use a fake
 * ReplicaOps; the reconciler's a fake rollout).
 */

/** One running (or starting) replica of a service, as the reconciler sees it. */
export interface Replica {
  /** Container id. */
  id: string;
  /** Container name: `<project>-<service>-<index>`. */
  name: string;
  /** `com.docker.compose.container-number`. */
  index: number;
  /** `com.docker.compose.config-hash` of the spec it was started from. */
  configHash: string;
}

/** What a rollout replaces replicas with: a service's normalized model and its hash. */
export interface ServiceRevision {
  service: ComposeService;
  configHash: string;
}

export interface ReplicaOps {
  /**
   * Create and start replica `index` of the revision (name, labels, networks,
   * HAProxy labels as the reconciler derives them). Resolves once started.
   */
  start(rev: ServiceRevision, index: number, signal: AbortSignal): Promise<Replica>;
  /**
   * Resolves when the replica is ready to take traffic: healthy (or running
   * if it has no health check), registered in the catalog, and UP in the
   * HAProxy backend when it publishes ports. Rejects (with the reason) when it
   * exits, turns unhealthy, or `timeoutMs` passes.
   */
  ready(replica: Replica, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /**
   * Watch a replica for `ms` (update_config.monitor): rejects if it exits or
   * turns unhealthy in that time, resolves otherwise.
   */
  monitor(replica: Replica, ms: number, signal: AbortSignal): Promise<void>;
  /**
   * Take a replica out of service with care and remove it: catalog
   * maintenance and HAProxy drain (the pre-stop hooks), stop with the
   * service's stop_grace_period, remove.
   */
  retire(replica: Replica, signal: AbortSignal): Promise<void>;
}

/** Saved before each step (atomically, in the project's state), so a restarted agent resumes. */
export interface RolloutState {
  service: string;
  /** `update` (to a new revision) or `rollback` (back to the previous one). */
  kind: 'update' | 'rollback';
  from: ServiceRevision;
  to: ServiceRevision;
  /** Desired replica count of `to`. */
  replicas: number;
  config: ComposeUpdateConfig;
  phase: 'running' | 'paused' | 'done' | 'failed' | 'rolled-back';
  /** Replicas of `to` started and ready so far, and those of `from` retired so far. */
  started: Replica[];
  retired: Replica[];
  failures: number;
  /** Why it paused, failed or rolled back. */
  reason?: string;
  /**
   * Set on the rollback the rollout started itself because the update failed
   * (failure_action rollback): why the update failed. While it runs the state
   * is that rollback's (kind `rollback`, from = the failed revision); it ends
   * `rolled-back` reported as the update that failed (kind `update`, `from`
   * running again, `to` the failed one). A `berth rollback` ends `done`.
   */
  failedUpdate?: string;
  startedAt: string;
  updatedAt: string;
}

export interface RolloutProgress {
  service: string;
  kind: RolloutState['kind'];
  phase: RolloutState['phase'];
  oldCount: number;
  newCount: number;
  /** The replica being waited on now, and what for. */
  waiting?: { name: string; for: 'start' | 'ready' | 'monitor' | 'retire' };
  failures: number;
  reason?: string;
}

export interface RolloutOptions {
  /** The replicas running now (any revision other than `to` is old). */
  current: Replica[];
  state: RolloutState;
  ops: ReplicaOps;
  /** Persist the state (called before each step). */
  save(state: RolloutState): Promise<void>;
  /** Progress for the terminal and the event stream. */
  onProgress?(p: RolloutProgress): void;
  signal: AbortSignal;
}
