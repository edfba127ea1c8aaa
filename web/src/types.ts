/** The API shapes the dashboard reads (src/api/schemas.ts; fields the page does not use are left out). */

export interface PortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  state: string;
  ports: PortMapping[];
  addresses: Record<string, string>;
  networkMode: string;
  health: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  restartCount: number;
}

/** GET /v1/containers/:id adds the validated config: limits live there. */
export interface ContainerDetail extends Container {
  config?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface StatsEntry {
  id: string;
  name: string;
  cpu: number;
  memory: { usage?: number; workingSet?: number; limit: number };
  net?: { rxBytesPerSec: number; txBytesPerSec: number };
  block?: { readBytesPerSec: number; writeBytesPerSec: number };
  pids?: { current?: number; max?: number };
}

export interface StatsMessage {
  time: string;
  interval: number;
  containers: StatsEntry[];
  missing?: string[];
}

export interface EventEnvelope {
  time: string;
  topic: string;
  event: { container?: Container; exitCode?: number; ref?: string; id?: string; [k: string]: unknown };
}

export interface RolloutProgress {
  service: string;
  kind: 'update' | 'rollback';
  phase: 'running' | 'paused' | 'done' | 'failed' | 'rolled-back';
  oldCount: number;
  newCount: number;
  waiting?: { name: string; for: 'start' | 'ready' | 'monitor' | 'retire' };
  failures: number;
  reason?: string;
}

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';

/** `GET /v1/projects/:name` (src/deploy/types.ts ProjectStatus). */
export interface ProjectStatus {
  name: string;
  origin: 'api' | 'dir';
  workingDir?: string;
  files?: string[];
  appliedAt?: string;
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
  frontend?: { port: number; bind?: string };
  rollout?: RolloutProgress;
  lastError?: { message: string; at: string };
  replicas: Array<{
    id: string;
    name: string;
    index: number;
    state: string;
    health: string;
    configHash: string;
    exitCode?: number;
  }>;
}
