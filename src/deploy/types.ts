import type { ComposeDependency, ComposeProject } from '../compose/types.js';
import type { Replica, RolloutProgress, RolloutState, ServiceRevision } from './contract.js';

/** A replica as the planner sees it: the contract's Replica plus what the runtime says of it now. */
export interface ActualReplica extends Replica {
  service: string;
  state: 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';
  health: 'none' | 'starting' | 'healthy' | 'unhealthy';
  exitCode?: number;
  /** When it exited (RFC 3339). */
  finishedAt?: string;
}

/** One service as it should be. */
export interface DesiredService {
  name: string;
  rev: ServiceRevision;
  replicas: number;
  dependsOn: Record<string, ComposeDependency>;
}

/** A step of convergence; the planner returns them in the order they should run. */
export type Action =
  | { kind: 'create'; service: string; index: number }
  | { kind: 'replace'; service: string; replica: ActualReplica; reason: string }
  | { kind: 'remove'; service: string; replica: ActualReplica; reason: 'scale-down' | 'orphan' | 'duplicate' }
  | { kind: 'rollout'; service: string; stale: ActualReplica[] }
  | { kind: 'wait'; service: string; on: string; condition: ComposeDependency['condition'] }
  /** Look again in `afterMs`: an exited replica its restart policy may still take back. */
  | { kind: 'recheck'; service: string; replica: ActualReplica; afterMs: number };

/** What `PUT /v1/projects/:name` carries (and the projects directory builds): the agent loads the project from it. */
export interface ProjectSource {
  /** The Compose files as the user named them (absolute) and their content. */
  files: Array<{ path: string; content: string }>;
  projectDir?: string;
  /** The environment interpolation sees (the client's). */
  env?: Record<string, string>;
  envFiles?: string[];
  profiles?: string[];
}

/** A project's desired state, stored atomically in `<stateRoot>/projects/<name>.json`. */
export interface ProjectRecord {
  schemaVersion: 1;
  name: string;
  origin: 'api' | 'dir';
  source: ProjectSource;
  project: ComposeProject;
  /** `up --scale` and `berth scale` over `deploy.replicas`. */
  scale: Record<string, number>;
  removeOrphans: boolean;
  /** Per service: the revision running now and the one before it (for `rollback`). */
  revisions: Record<string, { current: ServiceRevision; previous?: ServiceRevision }>;
  /** Rollouts not finished (saved before each step; resumed on agent start). */
  rollouts: Record<string, RolloutState>;
  lastError?: { message: string; at: string; service?: string };
  appliedAt: string;
}

/** `GET /v1/projects/:name`. */
export interface ProjectStatus {
  name: string;
  origin: 'api' | 'dir';
  workingDir: string;
  files: string[];
  appliedAt: string;
  lastError?: { message: string; at: string; service?: string };
  services: ServiceStatus[];
}

export interface ServiceStatus {
  name: string;
  image: string;
  configHash: string;
  desired: number;
  running: number;
  healthy: number;
  /** The balanced frontend, when the service publishes a port. */
  frontend?: { port: number; bind?: string };
  rollout?: RolloutProgress;
  lastError?: { message: string; at: string };
  replicas: Array<{
    id: string;
    name: string;
    index: number;
    state: ActualReplica['state'];
    health: ActualReplica['health'];
    configHash: string;
    exitCode?: number;
  }>;
}
