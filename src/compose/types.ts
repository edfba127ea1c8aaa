/**
 * The normalized Compose model berth acts on: every supported key in one long
 * form (durations in ms, sizes in bytes, ports and volumes in long syntax,
 * environment as a map, depends_on with conditions, deploy with Compose's
 * defaults). `loadProject` (loader.ts) produces it; the reconciler reads it.
 */
export interface ComposeProject {
  /** Normalized project name (lowercase a-z, 0-9, `_`, `-`). */
  name: string;
  /** Absolute project directory: relative paths resolve against it. */
  workingDir: string;
  /** The Compose files, absolute, in merge order. */
  files: string[];
  /** Services enabled by the active profiles, by name. */
  services: Record<string, ComposeService>;
  /** Services whose profiles are all inactive: kept for `config`, never started. */
  disabledServices: Record<string, ComposeService>;
  networks: Record<string, ComposeNetwork>;
  volumes: Record<string, ComposeVolume>;
}

export interface ComposeService {
  name: string;
  image?: string;
  containerName?: string;
  /** Exec form; a string in the file is split as a shell would (no shell run). */
  command?: string[];
  entrypoint?: string[];
  /** env_file values overridden by `environment`; null: named without a value and unset. */
  environment: Record<string, string | null>;
  envFiles: ComposeEnvFile[];
  ports: ComposePort[];
  /** Ports or ranges (`"3000"`, `"4000-4002/udp"`) as written. */
  expose: string[];
  labels: Record<string, string>;
  volumes: ComposeMount[];
  /** `tmpfs:` entries (`/run`, `/tmp:size=64m`) as written. */
  tmpfs: string[];
  readOnly: boolean;
  user?: string;
  workingDir?: string;
  hostname?: string;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  ulimits: Record<string, { soft: number; hard: number }>;
  pidsLimit?: number;
  /** Bytes. */
  memLimit?: number;
  cpus?: number;
  stopSignal?: string;
  stopGracePeriodMs?: number;
  restart?: string;
  healthcheck?: ComposeHealthcheck;
  logging?: { driver?: string; options: Record<string, string> };
  /** Networks this service joins (the project's `default` when none is named and no network_mode). */
  networks: Record<string, { aliases: string[] }>;
  networkMode?: 'host' | 'none';
  dependsOn: Record<string, ComposeDependency>;
  deploy: ComposeDeploy;
  profiles: string[];
}

export interface ComposeEnvFile {
  /** Absolute path. */
  path: string;
  required: boolean;
}

export interface ComposePort {
  target: number;
  /** Host port or range (`"8080"`, `"8000-8001"`); absent: an ephemeral port. */
  published?: string;
  hostIp?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  mode: 'ingress' | 'host';
  name?: string;
  appProtocol?: string;
}

export interface ComposeMount {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Absolute host path (bind), volume key (named volume); absent for anonymous volumes and tmpfs. */
  source?: string;
  target: string;
  readOnly: boolean;
  /** Short syntax always has it (createHostPath true); long syntax only with a `bind:` block. Absent: the host path must exist. */
  bind?: { propagation?: string; createHostPath?: boolean; selinux?: 'z' | 'Z' };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number; mode?: number };
}

export interface ComposeHealthcheck {
  /** `disable: true` or `test: ["NONE"]`: the image's check is turned off. */
  disable: boolean;
  /** `["CMD", ...]`, `["CMD-SHELL", "..."]`; absent: the image's own test. */
  test?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
  startIntervalMs?: number;
  retries?: number;
}

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ComposeDependency {
  condition: DependsOnCondition;
  /** false: a dependency switched off by profiles is skipped (it stays here, absent from services). */
  required: boolean;
  /** Restart this service when the dependency is updated. */
  restart: boolean;
}

export interface ComposeUpdateConfig {
  parallelism: number;
  delayMs: number;
  failureAction: 'rollback' | 'pause' | 'continue';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'start-first' | 'stop-first';
}

export interface ComposeDeploy {
  replicas: number;
  resources: { limits: { cpus?: number; memory?: number; pids?: number } };
  updateConfig: ComposeUpdateConfig;
  rollbackConfig: ComposeUpdateConfig;
  restartPolicy?: {
    condition: 'none' | 'on-failure' | 'any';
    delayMs: number;
    /** Absent: unlimited. */
    maxAttempts?: number;
    windowMs: number;
  };
}

export interface ComposeNetwork {
  /** Name on the host: `<project>_<key>` unless `name:` or external. */
  name: string;
  driver: 'bridge';
  external: boolean;
  internal: boolean;
  labels: Record<string, string>;
}

export interface ComposeVolume {
  name: string;
  driver: 'local';
  external: boolean;
  labels: Record<string, string>;
}
