import { isIP } from 'node:net';
import { posix } from 'node:path';
import { parseSize } from '../base/size.js';
import type { ManagedConfig, ResolvedImage } from '../containers/ports.js';
import { parseRestartPolicy } from '../containers/restart.js';
import type { PortMapping } from '../types.js';
import { normaliseCap, resolveCaps } from './capabilities.js';
import { bad, bool, record, str, strList } from './fields.js';
import { parseHealth } from './healthcheck.js';
import {
  isAbsoluteClean,
  parseCpus,
  parseCpuset,
  parseInteger,
  parsePort,
  parseSignal,
  parseUlimit,
  type Rlimit,
} from './parse.js';
import { parseSecurityOpts } from './security-opts.js';
import type { NetworkMode, OciRaw, RawMount, RawResources } from './types.js';
import { parseTmpfs, parseVolume } from './volumes.js';

export interface ValidateContext {
  /** CPUs on this host: the upper bound for `cpus`. */
  hostCpus: number;
  /** Reads a seccomp profile named by `seccomp=<path>`. */
  readProfile: (path: string) => Promise<string>;
}

const KNOWN_KEYS = new Set([
  'image',
  'cmd',
  'entrypoint',
  'env',
  'ports',
  'volumes',
  'tmpfs',
  'readOnly',
  'capAdd',
  'capDrop',
  'securityOpt',
  'privileged',
  'memory',
  'memorySwap',
  'cpus',
  'cpusetCpus',
  'pidsLimit',
  'ulimits',
  'restart',
  'network',
  'labels',
  'user',
  'workdir',
  'hostname',
  'stopSignal',
  'stopTimeout',
  'healthcheck',
  'autoRemove',
  'name',
  'extraHosts',
]);

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const USER_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*(:[a-zA-Z0-9_.][a-zA-Z0-9_.-]*)?$/;
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

/**
 * Validates a create request merged with the image config, Docker's way:
 * an entrypoint override clears the image Cmd; env, labels and health fields
 * overlay the image's; workdir/user/stop signal fall back to the image.
 */
export async function validateRequest(
  request: unknown,
  image: ResolvedImage,
  ctx: ValidateContext,
): Promise<ManagedConfig> {
  const req = record(request, 'request');
  for (const k of Object.keys(req)) {
    if (!KNOWN_KEYS.has(k)) throw bad(k, 'unknown key');
  }
  const ic = image.config;
  const has = (k: string): boolean => req[k] !== undefined;

  const imageRef = str(req.image, 'image');
  if (imageRef.trim() === '') throw bad('image', 'an image reference is required');

  let name: string | undefined;
  if (has('name')) {
    name = str(req.name, 'name').replace(/^\//, '');
    if (!NAME_RE.test(name))
      throw bad(
        'name',
        `must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters), got ${JSON.stringify(name)}`,
      );
  }

  // Command: Docker semantics.
  const entrypoint = has('entrypoint')
    ? strList(req.entrypoint, 'entrypoint')
    : (imageStrList(ic, 'Entrypoint') ?? []);
  // An empty cmd is "not given" (Docker API), so the image Cmd still applies.
  const reqCmd = has('cmd') ? strList(req.cmd, 'cmd') : [];
  const cmd = reqCmd.length > 0 ? reqCmd : has('entrypoint') ? [] : (imageStrList(ic, 'Cmd') ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0)
    throw bad('cmd', 'no command: the image has no Cmd or Entrypoint and the request gives none');

  const env = mergeEnv(imageStrList(ic, 'Env') ?? [], has('env') ? strList(req.env, 'env') : undefined);

  const labels: Record<string, string> = {};
  if (ic.Labels && typeof ic.Labels === 'object') {
    for (const [k, v] of Object.entries(ic.Labels as Record<string, unknown>))
      if (typeof v === 'string') labels[k] = v;
  }
  if (has('labels')) {
    for (const [k, v] of Object.entries(record(req.labels, 'labels'))) labels[k] = str(v, `labels.${k}`);
  }

  // Docker resolves a relative image WorkingDir against /.
  let cwd =
    typeof ic.WorkingDir === 'string' && ic.WorkingDir !== '' ? posix.resolve('/', ic.WorkingDir) : '/';
  if (has('workdir')) {
    cwd = str(req.workdir, 'workdir');
    if (!isAbsoluteClean(cwd)) throw bad('workdir', `must be an absolute path, got ${JSON.stringify(cwd)}`);
  }

  let user = typeof ic.User === 'string' && ic.User !== '' ? ic.User : '0';
  if (has('user')) {
    user = str(req.user, 'user');
    if (!USER_RE.test(user))
      throw bad('user', `must be uid[:gid] or name[:group], got ${JSON.stringify(user)}`);
  }

  let hostname: string | undefined;
  if (has('hostname')) {
    hostname = str(req.hostname, 'hostname');
    if (!HOSTNAME_RE.test(hostname))
      throw bad('hostname', `${JSON.stringify(hostname)} is not a valid hostname (RFC 1123)`);
  }

  let network: NetworkMode = 'bridge';
  if (has('network')) {
    const n = str(req.network, 'network');
    if (n !== 'none' && n !== 'host' && n !== 'bridge')
      throw bad('network', `must be none, host or bridge, got ${JSON.stringify(n)}`);
    network = n;
  }

  const published = has('ports')
    ? strList(req.ports, 'ports').map((p, i) => parsePort(p, `ports[${i}]`))
    : [];
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
  const ports = [...published, ...exposedPorts(ic, published)];

  const mounts: RawMount[] = [];
  if (has('volumes')) {
    for (const [i, v] of strList(req.volumes, 'volumes').entries())
      mounts.push(parseVolume(v, `volumes[${i}]`));
  }
  if (has('tmpfs')) {
    for (const [i, v] of strList(req.tmpfs, 'tmpfs').entries()) mounts.push(parseTmpfs(v, `tmpfs[${i}]`));
  }
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

  const readOnly = has('readOnly') ? bool(req.readOnly, 'readOnly') : false;
  const privileged = has('privileged') ? bool(req.privileged, 'privileged') : false;
  const capAdd = has('capAdd')
    ? strList(req.capAdd, 'capAdd').map((c, i) => normaliseCap(c, `capAdd[${i}]`))
    : [];
  const capDrop = has('capDrop')
    ? strList(req.capDrop, 'capDrop').map((c, i) => normaliseCap(c, `capDrop[${i}]`))
    : [];
  const caps = resolveCaps(privileged ? ['ALL'] : capAdd, privileged ? [] : capDrop);
  const sec = await parseSecurityOpts(
    has('securityOpt') ? strList(req.securityOpt, 'securityOpt') : [],
    ctx.readProfile,
  );

  const resources: RawResources = {};
  if (has('memory')) {
    resources.memory = parseSize(req.memory, 'memory');
    if (resources.memory < 6 * 1024 * 1024)
      throw bad('memory', `${JSON.stringify(req.memory)} is below the minimum of 6m`);
  }
  if (has('memorySwap')) {
    const s = req.memorySwap;
    resources.memorySwap = s === -1 || s === '-1' ? -1 : parseSize(s, 'memorySwap');
    if (resources.memory === undefined) throw bad('memorySwap', 'needs memory to be set as well');
    if (resources.memorySwap !== -1 && resources.memorySwap < resources.memory) {
      throw bad('memorySwap', `${JSON.stringify(s)} is below memory (it is memory plus swap, as in Docker)`);
    }
  }
  if (has('cpus')) {
    const c = parseCpus(req.cpus, 'cpus', ctx.hostCpus);
    resources.cpuQuota = c.quota;
    resources.cpuPeriod = c.period;
  }
  if (has('cpusetCpus')) resources.cpusetCpus = parseCpuset(req.cpusetCpus, 'cpusetCpus');
  if (has('pidsLimit')) {
    const p = parseInteger(req.pidsLimit, 'pidsLimit', -1);
    if (p === 0) throw bad('pidsLimit', 'must be positive, or -1 for unlimited');
    resources.pidsLimit = p;
  }
  const rlimits: Rlimit[] = [];
  if (has('ulimits')) {
    strList(req.ulimits, 'ulimits').forEach((u, i) => {
      const r = parseUlimit(u, `ulimits[${i}]`);
      if (rlimits.some((x) => x.type === r.type)) throw bad(`ulimits[${i}]`, `${r.type} is given twice`);
      rlimits.push(r);
    });
  }

  const restart = parseRestartPolicy(has('restart') ? str(req.restart, 'restart') : 'no');
  const autoRemove = has('autoRemove') ? bool(req.autoRemove, 'autoRemove') : false;
  if (autoRemove && restart.name !== 'no')
    throw bad('autoRemove', `conflicts with restart ${restart.name}: a removed container cannot restart`);

  const stopSignal = has('stopSignal')
    ? parseSignal(req.stopSignal, 'stopSignal')
    : typeof ic.StopSignal === 'string' && ic.StopSignal !== ''
      ? parseSignal(ic.StopSignal, 'image StopSignal')
      : 'SIGTERM';
  const stopTimeoutMs =
    (has('stopTimeout') ? parseInteger(req.stopTimeout, 'stopTimeout', 0, 86_400) : STOP_TIMEOUT_DEFAULT_S) *
    1000;

  const health = parseHealth(req.healthcheck, ic);

  let extraHosts: string[] | undefined;
  if (has('extraHosts')) {
    extraHosts = strList(req.extraHosts, 'extraHosts').map((h, i) => {
      const field = `extraHosts[${i}]`;
      const colon = h.indexOf(':');
      const host = h.slice(0, colon);
      const ip = h.slice(colon + 1).replace(/^\[(.*)\]$/, '$1');
      if (colon < 0 || !HOSTNAME_RE.test(host)) throw bad(field, `must be HOST:IP, got ${JSON.stringify(h)}`);
      if (isIP(ip) === 0) throw bad(field, `${JSON.stringify(ip)} is not an IP address`);
      return `${host}:${ip}`;
    });
  }

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
    image: imageRef,
    labels,
    env,
    ...(hostname !== undefined ? { hostname } : {}),
    network,
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
