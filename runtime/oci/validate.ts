import { isIP } from 'node:net';
import { posix } from 'node:path';
import { checker } from '../base/schema.js';
import { parseSize } from '../base/size.js';
import type { ResolvedImage } from '../image/types.js';
import { parseRestartPolicy } from '../restart/policy.js';
import type { PortMapping } from '../types.js';
import { normaliseCap, resolveCaps } from './capabilities.js';
import { bad } from './fields.js';
import { parseHealth } from './healthcheck.js';
import { networksOf } from './networks.js';
import {
  parseCpus,
  parseCpuset,
  parseInteger,
  parsePort,
  parseSignal,
  parseUlimit,
  type Rlimit,
} from './parse.js';
import { CreateRequest, HOSTNAME_PATTERN } from './request.js';
import { parseSecurityOpts } from './security-opts.js';
import type { ManagedConfig, NetworkMode, OciRaw, RawMount, RawResources } from './types.js';
import { parseTmpfs, parseVolume } from './volumes.js';

export interface ValidateContext {
  /** CPUs on this host: the upper bound for `cpus`. */
  hostCpus: number;
  /** Reads a seccomp profile named by `seccomp=<path>`. */
  readProfile: (path: string) => Promise<string>;
}

const HOSTNAME_RE = new RegExp(HOSTNAME_PATTERN);
const ENV_KEY_RE = /^[^=\0]+$/;
const STOP_TIMEOUT_DEFAULT_S = 10;

function imageStrList(cfg: Record<string, unknown>, key: string): string[] | undefined {
  const v = cfg[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** Image env overlaid by request env; `KEY` without `=` removes the image's value (Docker API semantics). */
function mergeEnv(imageEnv: string[], reqEnv: string[] | undefined): string[] {
  const out = new Map<string, string>();
  for (const e of imageEnv) {
    const eq = e.indexOf('=');
    if (eq > 0) out.set(e.slice(0, eq), e.slice(eq + 1));
  }
  (reqEnv ?? []).forEach((e, i) => {
    const field = `env[${i}]`;
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (!ENV_KEY_RE.test(key))
      throw bad(field, `must be KEY=VALUE with a non-empty KEY, got ${JSON.stringify(e)}`);
    if (eq < 0) out.delete(key);
    else out.set(key, e.slice(eq + 1));
  });
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/** Image ExposedPorts (`{"80/tcp": {}}`) become unpublished entries unless the request publishes them. */
function exposedPorts(image: Record<string, unknown>, published: PortMapping[]): PortMapping[] {
  const exp =
    image.ExposedPorts && typeof image.ExposedPorts === 'object' ? Object.keys(image.ExposedPorts) : [];
  const out: PortMapping[] = [];
  for (const key of exp) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
    if (!m) continue;
    const containerPort = Number(m[1]);
    const protocol = (m[2] ?? 'tcp') as 'tcp' | 'udp';
    if (containerPort < 1 || containerPort > 65535) continue;
    if (published.some((p) => p.containerPort === containerPort && p.protocol === protocol)) continue;
    out.push({ containerPort, protocol, hostIp: '', hostPort: 0 });
  }
  return out;
}

const checkCreateRequest = checker(CreateRequest, 'request');

/** Docker's command: an entrypoint override clears the image Cmd; an empty cmd is "not given" (Docker API). */
function command(req: CreateRequest, ic: Record<string, unknown>): string[] {
  const entrypoint = req.entrypoint ?? imageStrList(ic, 'Entrypoint') ?? [];
  const reqCmd = req.cmd ?? [];
  const cmd = reqCmd.length > 0 ? reqCmd : req.entrypoint ? [] : (imageStrList(ic, 'Cmd') ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0)
    throw bad('cmd', 'no command: the image has no Cmd or Entrypoint and the request gives none');
  return args;
}

/** Published ports: a host address:port/protocol at most once; publishing needs the bridge network. */
function publishedPorts(req: CreateRequest, network: NetworkMode): PortMapping[] {
  const published = (req.ports ?? []).map((p, i) => parsePort(p, `ports[${i}]`));
  const seen = new Set<string>();
  published.forEach((p, i) => {
    if (p.hostPort === 0) return;
    const key = `${p.hostIp}:${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) throw bad(`ports[${i}]`, `host port ${key} is published twice`);
    seen.add(key);
  });
  if (network !== 'bridge' && published.some((p) => p.hostIp !== '')) {
    throw bad('ports', `publishing ports needs network bridge (network is ${network})`);
  }
  return published;
}

/** Volumes then tmpfs mounts; a destination at most once across both. */
function mountsOf(req: CreateRequest): RawMount[] {
  const mounts: RawMount[] = [
    ...(req.volumes ?? []).map((v, i) => parseVolume(v, `volumes[${i}]`)),
    ...(req.tmpfs ?? []).map((v, i) => parseTmpfs(v, `tmpfs[${i}]`)),
  ];
  const dests = new Set<string>();
  for (const m of mounts) {
    const d = m.destination.replace(/\/+$/, '');
    if (dests.has(d)) {
      const i = mounts.indexOf(m);
      const field =
        m.kind === 'tmpfs'
          ? `tmpfs[${i - mounts.filter((x) => x.kind !== 'tmpfs').length}]`
          : `volumes[${i}]`;
      throw bad(field, `destination ${m.destination} is mounted twice`);
    }
    dests.add(d);
  }
  return mounts;
}

/** Limits in Docker's notation, with the checks across them (memory minimum, swap above memory). */
function resourcesOf(req: CreateRequest, hostCpus: number): RawResources {
  const resources: RawResources = {};
  if (req.memory !== undefined) {
    resources.memory = parseSize(req.memory, 'memory');
    if (resources.memory < 6 * 1024 * 1024)
      throw bad('memory', `${JSON.stringify(req.memory)} is below the minimum of 6m`);
  }
  if (req.memorySwap !== undefined) {
    const s = req.memorySwap;
    resources.memorySwap = s === -1 || s === '-1' ? -1 : parseSize(s, 'memorySwap');
    if (resources.memory === undefined) throw bad('memorySwap', 'needs memory to be set as well');
    if (resources.memorySwap !== -1 && resources.memorySwap < resources.memory) {
      throw bad('memorySwap', `${JSON.stringify(s)} is below memory (it is memory plus swap, as in Docker)`);
    }
  }
  if (req.cpus !== undefined) {
    const c = parseCpus(req.cpus, 'cpus', hostCpus);
    resources.cpuQuota = c.quota;
    resources.cpuPeriod = c.period;
  }
  if (req.cpusetCpus !== undefined) resources.cpusetCpus = parseCpuset(req.cpusetCpus, 'cpusetCpus');
  if (req.pidsLimit !== undefined) {
    const p = parseInteger(req.pidsLimit, 'pidsLimit', -1);
    if (p === 0) throw bad('pidsLimit', 'must be positive, or -1 for unlimited');
    resources.pidsLimit = p;
  }
  return resources;
}

/** `ulimits`, each limit at most once. */
function rlimitsOf(req: CreateRequest): Rlimit[] {
  const rlimits: Rlimit[] = [];
  (req.ulimits ?? []).forEach((u, i) => {
    const r = parseUlimit(u, `ulimits[${i}]`);
    if (rlimits.some((x) => x.type === r.type)) throw bad(`ulimits[${i}]`, `${r.type} is given twice`);
    rlimits.push(r);
  });
  return rlimits;
}

/** `HOST:IP` (IPv6 possibly bracketed) → `HOST:IP`. */
function extraHostsOf(list: string[]): string[] {
  return list.map((h, i) => {
    const field = `extraHosts[${i}]`;
    const colon = h.indexOf(':');
    const host = h.slice(0, colon);
    const ip = h.slice(colon + 1).replace(/^\[(.*)\]$/, '$1');
    if (colon < 0 || !HOSTNAME_RE.test(host)) throw bad(field, `must be HOST:IP, got ${JSON.stringify(h)}`);
    if (isIP(ip) === 0) throw bad(field, `${JSON.stringify(ip)} is not an IP address`);
    return `${host}:${ip}`;
  });
}

/**
 * Validates a create request merged with the image config, Docker's way:
 * an entrypoint override clears the image Cmd; env, labels and health fields
 * overlay the image's; workdir/user/stop signal fall back to the image. The
 * shape is the schema's (request.ts); what is checked here is what a schema
 * cannot say: Docker's notations and the checks across fields or against the
 * image and the host.
 */
export async function validateRequest(
  request: unknown,
  image: ResolvedImage,
  ctx: ValidateContext,
): Promise<ManagedConfig> {
  const req = checkCreateRequest(request);
  const ic = image.config;
  const name = req.name?.replace(/^\//, '');
  const args = command(req, ic);
  const env = mergeEnv(imageStrList(ic, 'Env') ?? [], req.env);

  const labels: Record<string, string> = {};
  if (ic.Labels && typeof ic.Labels === 'object') {
    for (const [k, v] of Object.entries(ic.Labels as Record<string, unknown>))
      if (typeof v === 'string') labels[k] = v;
  }
  Object.assign(labels, req.labels);

  // Docker resolves a relative image WorkingDir against /.
  const cwd =
    req.workdir ??
    (typeof ic.WorkingDir === 'string' && ic.WorkingDir !== '' ? posix.resolve('/', ic.WorkingDir) : '/');
  const user = req.user ?? (typeof ic.User === 'string' && ic.User !== '' ? ic.User : '0');
  const hostname = req.hostname;
  const network: NetworkMode = req.network ?? 'bridge';
  const published = publishedPorts(req, network);
  const networks = networksOf(req, network);
  const ports = [...published, ...exposedPorts(ic, published)];
  const mounts = mountsOf(req);

  const readOnly = req.readOnly ?? false;
  const privileged = req.privileged ?? false;
  const capAdd = (req.capAdd ?? []).map((c, i) => normaliseCap(c, `capAdd[${i}]`));
  const capDrop = (req.capDrop ?? []).map((c, i) => normaliseCap(c, `capDrop[${i}]`));
  const caps = resolveCaps(privileged ? ['ALL'] : capAdd, privileged ? [] : capDrop);
  const sec = await parseSecurityOpts(req.securityOpt ?? [], ctx.readProfile);

  const resources = resourcesOf(req, ctx.hostCpus);
  const rlimits = rlimitsOf(req);

  const restart = parseRestartPolicy(req.restart ?? 'no');
  const autoRemove = req.autoRemove ?? false;
  if (autoRemove && restart.name !== 'no')
    throw bad('autoRemove', `conflicts with restart ${restart.name}: a removed container cannot restart`);

  const stopSignal =
    req.stopSignal !== undefined
      ? parseSignal(req.stopSignal, 'stopSignal')
      : typeof ic.StopSignal === 'string' && ic.StopSignal !== ''
        ? parseSignal(ic.StopSignal, 'image StopSignal')
        : 'SIGTERM';
  const stopTimeoutMs =
    (req.stopTimeout !== undefined
      ? parseInteger(req.stopTimeout, 'stopTimeout', 0, 86_400)
      : STOP_TIMEOUT_DEFAULT_S) * 1000;

  const health = parseHealth(req.healthcheck, ic);
  const extraHosts = req.extraHosts ? extraHostsOf(req.extraHosts) : undefined;

  const raw: OciRaw = {
    v: 1,
    args,
    env,
    cwd,
    user,
    readOnly,
    privileged,
    noNewPrivileges: sec.noNewPrivileges,
    caps,
    ...(capAdd.some((c) => c !== 'ALL') ? { requestedCaps: capAdd.filter((c) => c !== 'ALL') } : {}),
    seccomp: sec.seccomp,
    mounts,
    resources,
    rlimits,
    network,
  };
  return {
    ...(name !== undefined ? { name } : {}),
    image: req.image,
    labels,
    env,
    ...(hostname !== undefined ? { hostname } : {}),
    network,
    ...(networks ? { networks } : {}),
    ports,
    restart,
    ...(health ? { health } : {}),
    stopSignal,
    stopTimeoutMs,
    autoRemove,
    ...(extraHosts ? { extraHosts } : {}),
    raw,
  };
}
