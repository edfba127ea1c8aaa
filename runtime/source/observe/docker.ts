import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { splitReference } from '../../image/reference.js';
import type { ContainerState, HealthStatus, PortMapping } from '../../types.js';
import { readBounded } from './safe-read.js';

/**
 * What Docker keeps about a container on disk, read from
 * `<dockerRoot>/containers/<id>/config.v2.json` and `hostconfig.json` (the
 * daemon's own records: moby's daemon/container/container.go serializes its
 * `Container` struct there, `State`, `Config`, `NetworkSettings`, `Name`
 * with its leading `/`, …). Read, never written; every field checked.
 */
export interface DockerMeta {
  id: string;
  /** Without Docker's leading `/`. */
  name: string;
  image: string;
  imageId?: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  state: ContainerState;
  pid?: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  restartCount: number;
  health: HealthStatus;
  ports: PortMapping[];
  addresses: Record<string, string>;
  networkMode: string;
  /** `<dockerRoot>/containers/<id>/<id>-json.log` when the container logs with json-file. */
  logPath?: string;
}

/** Docker's own records are small; a larger one is not Docker's. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
/** Docker's container name rule (daemon/names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`), with its leading slash. */
const DOCKER_NAME = /^\/[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const MAX_LABELS = 1024;
const MAX_VALUE = 64 * 1024;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown, max = MAX_VALUE): string | undefined =>
  typeof v === 'string' && v.length <= max && !v.includes('\0') ? v : undefined;
const time = (v: unknown): string | undefined => {
  const s = str(v, 64);
  return s && s !== ZERO_TIME && !Number.isNaN(Date.parse(s)) ? s : undefined;
};
const int = (v: unknown, max: number): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;

/** The ids of Docker's container directories (64 hex names only), at most `max`. */
export async function listDockerIds(dockerRoot: string, max: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(dockerRoot, 'containers'));
  } catch {
    return [];
  }
  return names.filter((n) => HEX64.test(n)).slice(0, max);
}

/**
 * Reads one container's records; undefined when they are absent, unreadable
 * or not Docker's (the id inside differs, the name breaks Docker's rule).
 */
export async function readDockerMeta(dockerRoot: string, id: string): Promise<DockerMeta | undefined> {
  if (!HEX64.test(id)) return undefined;
  const dir = join(dockerRoot, 'containers', id);
  const text = await readBounded(dockerRoot, join(dir, 'config.v2.json'), MAX_CONFIG_BYTES);
  if (text === undefined) return undefined;
  let doc: Json | undefined;
  try {
    doc = obj(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (!doc || doc.ID !== id) return undefined;
  const hostText = await readBounded(dockerRoot, join(dir, 'hostconfig.json'), MAX_CONFIG_BYTES);
  let host: Json | undefined;
  try {
    host = hostText === undefined ? undefined : obj(JSON.parse(hostText));
  } catch {
    host = undefined;
  }
  const rawName = str(doc.Name, 256);
  if (rawName === undefined || !DOCKER_NAME.test(rawName)) return undefined;
  const state = obj(doc.State) ?? {};
  const config = obj(doc.Config) ?? {};
  const image = str(config.Image, 512) ?? '';
  const logType = str(obj(host?.LogConfig)?.Type, 64) ?? 'json-file';
  const meta: DockerMeta = {
    id,
    name: rawName.slice(1),
    image,
    labels: stringMap(config.Labels),
    env: envMap(config.Env),
    state: stateOf(state),
    createdAt: time(doc.Created) ?? ZERO_TIME,
    restartCount: int(doc.RestartCount, 1e9) ?? 0,
    health: healthOf(obj(state.Health)?.Status),
    ports: portsOf(obj(obj(doc.NetworkSettings)?.Ports)),
    addresses: addressesOf(obj(obj(doc.NetworkSettings)?.Networks)),
    networkMode: str(host?.NetworkMode, 128) ?? 'default',
  };
  const imageId = str(doc.Image, 128);
  if (imageId && /^sha256:[0-9a-f]{64}$/.test(imageId)) meta.imageId = imageId;
  const pid = int(state.Pid, 1 << 22);
  if (pid && meta.state === 'running') meta.pid = pid;
  const startedAt = time(state.StartedAt);
  if (startedAt) meta.startedAt = startedAt;
  const finishedAt = time(state.FinishedAt);
  if (finishedAt) meta.finishedAt = finishedAt;
  if (meta.state === 'exited' || meta.state === 'dead') {
    const code = typeof state.ExitCode === 'number' && Number.isInteger(state.ExitCode) ? state.ExitCode : 0;
    meta.exitCode = code;
    if (state.OOMKilled === true) meta.oomKilled = true;
  }
  // Only json-file leaves a file berth can read; the path is Docker's fixed one, never LogPath as written.
  if (logType === 'json-file') meta.logPath = join(dir, `${id}-json.log`);
  return meta;
}

/**
 * The log driver a container's `hostconfig.json` names (`json-file` when it
 * names none, as Docker's default); undefined when the record is unreadable
 * or the name is not a driver name. For the error `berth logs` gives for a
 * container berth cannot read (README.md, "Logs").
 */
export async function readDockerLogDriver(dockerRoot: string, id: string): Promise<string | undefined> {
  if (!HEX64.test(id)) return undefined;
  const text = await readBounded(
    dockerRoot,
    join(dockerRoot, 'containers', id, 'hostconfig.json'),
    MAX_CONFIG_BYTES,
  );
  if (text === undefined) return undefined;
  let host: Json | undefined;
  try {
    host = obj(JSON.parse(text));
  } catch {
    return undefined;
  }
  const type = str(obj(host?.LogConfig)?.Type, 64) ?? 'json-file';
  return /^[a-zA-Z0-9][a-zA-Z0-9_.:/-]*$/.test(type) ? type : undefined;
}

/** Name and tag of an image reference for descriptors ('' tag for a digest or an id). */
export function imageParts(image: string): { imageName: string; imageTag: string } {
  if (image === '' || /^sha256:/.test(image)) return { imageName: image, imageTag: '' };
  try {
    const { name, tag } = splitReference(image);
    return { imageName: name, imageTag: tag };
  } catch {
    return { imageName: image, imageTag: '' };
  }
}

function stateOf(s: Json): ContainerState {
  if (s.Dead === true) return 'dead';
  if (s.Restarting === true) return 'restarting';
  if (s.Running === true) return s.Paused === true ? 'paused' : 'running';
  if (s.RemovalInProgress === true) return 'removing';
  return time(s.StartedAt) ? 'exited' : 'created';
}

function healthOf(v: unknown): HealthStatus {
  return v === 'starting' || v === 'healthy' || v === 'unhealthy' ? v : 'none';
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = obj(v);
  if (!o) return out;
  let n = 0;
  for (const [k, val] of Object.entries(o)) {
    if (n++ >= MAX_LABELS) break;
    const s = str(val);
    if (s !== undefined && k.length <= 1024) out[k] = s;
  }
  return out;
}

function envMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (const e of v.slice(0, MAX_LABELS)) {
    const s = str(e);
    const eq = s?.indexOf('=') ?? -1;
    if (s !== undefined && eq > 0) out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

/** `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}` → port mappings. */
function portsOf(ports: Json | undefined): PortMapping[] {
  const out: PortMapping[] = [];
  if (!ports) return out;
  for (const [key, binds] of Object.entries(ports).slice(0, 1024)) {
    const m = /^(\d{1,5})\/(tcp|udp)$/.exec(key);
    if (!m?.[1] || (m[2] !== 'tcp' && m[2] !== 'udp')) continue;
    const containerPort = Number(m[1]);
    if (containerPort < 1 || containerPort > 65535) continue;
    const list = Array.isArray(binds) ? binds : [];
    if (list.length === 0) out.push({ containerPort, protocol: m[2], hostIp: '', hostPort: 0 });
    for (const b of list.slice(0, 16)) {
      const hostPort = Number(str(obj(b)?.HostPort, 5) ?? '0');
      const hostIp = str(obj(b)?.HostIp, 64) ?? '';
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) continue;
      out.push({ containerPort, protocol: m[2], hostIp, hostPort });
    }
  }
  return out;
}

function addressesOf(networks: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!networks) return out;
  for (const [name, n] of Object.entries(networks).slice(0, 64)) {
    const ip = str(obj(n)?.IPAddress, 64);
    if (ip && /^[0-9a-fA-F.:]+$/.test(ip) && name.length <= 256) out[name] = ip;
  }
  return out;
}
