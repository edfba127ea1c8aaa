import type { ContainerDescriptor, ContainerSource } from './types.js';

/** One line of container output as the API streams it. */
export interface LogLine {
  /** RFC 3339 UTC with nanoseconds, from the monitor's timestamp. */
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
  /** The line goes on in the next one of the same stream: it was longer than the join cap (runtime/exec/k8s-format.ts). */
  partial?: boolean;
}

export interface LogQuery {
  follow?: boolean;
  /** Last N lines (per container, across both streams). */
  tail?: number;
  /** ISO time or unix seconds; lines at or after it. */
  since?: string;
  until?: string;
  stdout?: boolean;
  stderr?: boolean;
  /** Followers read to the end of what was written, then end, when this aborts. */
  signal?: AbortSignal;
}

export interface ExecRequest {
  cmd: string[];
  env?: string[];
  user?: string;
  workdir?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Streams of an exec'd command, for a caller that relays them as they come
 * (`berth exec`): its output goes to `stdout`/`stderr` (with backpressure;
 * the result's stdout and stderr are then empty) and `stdin`, when given, is
 * its standard input (otherwise /dev/null). `signal` kills the command.
 */
export interface ExecIO {
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal?: AbortSignal;
}

/** A named volume as `berth volume ls` shows it. */
export interface VolumeSummary {
  name: string;
  /** The host directory mounted into containers. */
  mountpoint: string;
  createdAt: string;
  /** Made by `-v /path` for one container, and removed with it. */
  anonymous: boolean;
  /** Names of the containers (running or not) that mount it. */
  usedBy: string[];
}

export interface WaitResult {
  exitCode: number;
  oomKilled: boolean;
  signal?: string;
}

export interface ImageSummary {
  id: string;
  refs: string[];
  size: number;
  created?: string;
}

export interface PullProgress {
  layer: string;
  current: number;
  total: number;
  status: 'waiting' | 'downloading' | 'exists' | 'done';
}

/**
 * berth's runtime as the API and the reconciler use it. It is also a
 * `ContainerSource` for the sidecars. The create request is the unvalidated
 * user input (from the CLI, the API or a Compose file); the runtime validates
 * it and rejects it with `InvalidArgumentError` naming the field before
 * changing anything.
 */
export interface Runtime extends ContainerSource {
  create(request: unknown): Promise<ContainerDescriptor>;
  start(idOrName: string): Promise<ContainerDescriptor>;
  /** Stop signal, then SIGKILL after the grace period (ms; the container's own when absent). */
  stop(idOrName: string, opts?: { timeoutMs?: number }): Promise<WaitResult>;
  /** stop (when running) then start; refused for --rm containers. */
  restart(idOrName: string, opts?: { timeoutMs?: number }): Promise<ContainerDescriptor>;
  kill(idOrName: string, signal?: string): Promise<void>;
  remove(idOrName: string, opts?: { force?: boolean }): Promise<void>;
  wait(idOrName: string, signal?: AbortSignal): Promise<WaitResult>;
  /** Runs a command in a running container; with `io` its streams are relayed as they come. */
  exec(idOrName: string, req: ExecRequest, io?: ExecIO): Promise<ExecResult>;
  /** The descriptor plus the validated config, health log and runtime details. */
  inspect(idOrName: string): Promise<Record<string, unknown>>;
  logs(idOrName: string, query: LogQuery): AsyncIterable<LogLine>;

  volumes(): Promise<VolumeSummary[]>;
  inspectVolume(name: string): Promise<VolumeSummary>;
  /** Idempotent, as `docker volume create`. */
  createVolume(name: string): Promise<VolumeSummary>;
  /** FailedPreconditionError while any container mounts it. */
  removeVolume(name: string): Promise<void>;
  /** Removes the volumes no container mounts; returns their names. */
  pruneVolumes(): Promise<string[]>;

  /** Removes every container that is not running; returns their names. */
  pruneContainers(): Promise<string[]>;

  images(): Promise<ImageSummary[]>;
  /** Checks the credentials with the registry and keeps them for its pulls; returns the registry's domain. */
  login(registry: string, login: { username: string; password: string; caFile?: string }): Promise<string>;
  /** Forgets a registry's login (NotFoundError when there is none); returns its domain. */
  logout(registry: string): Promise<string>;
  /** Registries with a stored login. */
  logins(): Promise<string[]>;
  /** Another reference for an image (`berth tag`). */
  tagImage(source: string, target: string): Promise<void>;
  /** Removes unused images: untagged ones, or with `all` every one no container uses. */
  pruneImages(opts?: { all?: boolean }): Promise<string[]>;
  pull(
    ref: string,
    opts: Record<string, unknown>,
    onProgress?: (p: PullProgress) => void,
  ): Promise<ImageSummary>;
  load(tar: NodeJS.ReadableStream): Promise<ImageSummary[]>;
  importRootfs(tar: NodeJS.ReadableStream, ref: string): Promise<ImageSummary>;
  removeImage(ref: string, opts?: { force?: boolean }): Promise<string[]>;

  /** Agent shutdown: stops watching; containers keep running (live restore). */
  close(): Promise<void>;
}
