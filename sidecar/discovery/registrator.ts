import type { ContainerDescriptor, PortMapping } from '../../runtime/types.js';
import { type CheckSpec, type CheckStatus, isProbed } from './checks.js';
import type { ServiceInstance } from './types.js';

export type { CheckSpec, CheckStatus } from './checks.js';

/**
 * Registrator's conventions as a pure function: container descriptor + host
 * facts → the service instances to register. No I/O, no clock; the
 * Registrar (registrar.ts) does the lifecycle.
 *
 * Source of the rules: Registrator's "Service Object" documentation and its
 * bridge (`newService`, `serviceMetaData`, the Consul backend's `buildCheck`),
 * with the deviations listed in README.md ("Where berth differs").
 */

/** Where a service's address and port come from (Registrator's `-internal`). */
export type AddressChoice = 'published' | 'container';

export interface HostFacts {
  /** berth's node name: the `<hostname>` part of default ids and the catalog node. */
  nodeName: string;
  /** Address registered for ports published on a wildcard address (0.0.0.0, ::). */
  hostIp: string;
  /** `published` (default, as Registrator): host IP and host port of published ports only. `container`: the container's address and its ports, published or not. */
  address?: AddressChoice;
  /** Appended to every service's tags (Registrator's `-tags`). */
  tags?: readonly string[];
  /** Only containers with a SERVICE_NAME / SERVICE_<port>_NAME are registered (Registrator's `-explicit`). */
  explicit?: boolean;
}

/** Consul's default check interval, also Registrator's. */
export const DEFAULT_CHECK_INTERVAL = '10s';

export interface Registration {
  instance: ServiceInstance;
  /** The exposed (container-side) port and protocol the service comes from. */
  containerPort: number;
  protocol: 'tcp' | 'udp';
  check?: CheckSpec;
  /** Where the instance id came from: `SERVICE_ID`, `SERVICE_<port>_ID`, or undefined for the default id. */
  idLabel?: string;
  /** Settings that were dropped (bad meta key, unknown initial status, …), for a log line. */
  warnings: string[];
}

/** Meta key berth writes with the backing container's id. */
export const META_BERTH_CONTAINER = 'berth-container';
/** Prefix of meta keys copied from `berth.lb.*` labels (Consul meta keys cannot hold dots). */
export const META_LB_PREFIX = 'berth-lb-';
const LB_LABEL_PREFIX = 'berth.lb.';

const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
const META_VALUE_MAX = 512;
/** Keys with a meaning of their own; every other SERVICE_X becomes meta `x`. */
const RESERVED = new Set(['name', 'id', 'tags', 'ignore']);
const CHECK_STATUSES: readonly string[] = ['passing', 'warning', 'critical'];

/** The service instances of a container (see `registrationsFor`). */
export function serviceInstancesFor(c: ContainerDescriptor, host: HostFacts): ServiceInstance[] {
  return registrationsFor(c, host).map((r) => r.instance);
}

/**
 * One registration per service port of the container, in port order.
 * A container without service ports (or ignored, or unnamed under
 * `explicit`) has none, whatever its SERVICE_NAME says: a service is
 * something listening on a port.
 */
export function registrationsFor(c: ContainerDescriptor, host: HostFacts): Registration[] {
  const choice = host.address ?? 'published';
  const ports = servicePorts(c, choice);
  const isGroup = ports.length > 1;
  const out: Registration[] = [];
  for (const p of ports) {
    const r = registrationFor(c, host, p, isGroup);
    if (r !== undefined) out.push(r);
  }
  return out;
}

interface ServicePort {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

/**
 * The ports that become services. Published: only ports with a host port
 * (in host network mode every exposed port is a host port). Container: every
 * exposed port at the container's address. One service per port/protocol;
 * the first binding wins, as in Registrator.
 */
function servicePorts(c: ContainerDescriptor, choice: AddressChoice): ServicePort[] {
  const hostMode = c.networkMode === 'host';
  const seen = new Set<string>();
  const out: ServicePort[] = [];
  const containerAddr = containerAddress(c);
  for (const m of c.ports) {
    const key = `${m.containerPort}/${m.protocol}`;
    if (seen.has(key)) continue;
    let sp: ServicePort | undefined;
    if (choice === 'container') {
      if (containerAddr !== undefined) {
        sp = {
          containerPort: m.containerPort,
          protocol: m.protocol,
          address: containerAddr,
          port: m.containerPort,
        };
      }
    } else if (hostMode) {
      sp = {
        containerPort: m.containerPort,
        protocol: m.protocol,
        address: boundAddress(m),
        port: m.hostPort === 0 ? m.containerPort : m.hostPort,
      };
    } else if (m.hostPort !== 0) {
      sp = {
        containerPort: m.containerPort,
        protocol: m.protocol,
        address: boundAddress(m),
        port: m.hostPort,
      };
    }
    if (sp === undefined) continue;
    seen.add(key);
    out.push(sp);
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

/** '' marks "the host IP" (filled in later): a wildcard binding is reachable at the host's address. */
function boundAddress(m: PortMapping): string {
  return m.hostIp === '' || m.hostIp === '0.0.0.0' || m.hostIp === '::' ? '' : m.hostIp;
}

/** The container's own address: on its network mode's network, else the first it has; the host's in host mode. */
function containerAddress(c: ContainerDescriptor): string | undefined {
  if (c.networkMode === 'host') return '';
  const own = c.addresses[c.networkMode];
  if (own !== undefined && own !== '') return own;
  const keys = Object.keys(c.addresses).sort();
  for (const k of keys) {
    const a = c.addresses[k];
    if (a !== undefined && a !== '') return a;
  }
  return undefined;
}

interface Metadata {
  values: Map<string, string>;
  /** Keys set by SERVICE_<port>_X for this port (they beat SERVICE_X). */
  fromPort: Set<string>;
}

/**
 * SERVICE_* from env, then labels (labels win), keys lower-cased with the
 * prefix cut; `SERVICE_<port>_X` only for that port, and it beats `SERVICE_X`.
 */
export function serviceMetadata(c: ContainerDescriptor, containerPort: number): Metadata {
  const generic = new Map<string, string>();
  const perPort = new Map<string, string>();
  const port = String(containerPort);
  for (const source of [c.env, c.labels]) {
    for (const [k, v] of Object.entries(source)) {
      if (!k.startsWith('SERVICE_')) continue;
      const key = k.slice('SERVICE_'.length).toLowerCase();
      if (key === '') continue;
      const us = key.indexOf('_');
      const head = us === -1 ? key : key.slice(0, us);
      if (us !== -1 && /^[0-9]+$/.test(head)) {
        if (head !== port) continue;
        perPort.set(key.slice(us + 1), v);
      } else {
        generic.set(key, v);
      }
    }
  }
  const values = new Map(generic);
  for (const [k, v] of perPort) values.set(k, v);
  return { values, fromPort: new Set(perPort.keys()) };
}

/** SERVICE_IGNORE: any value ignores (as Registrator), except an explicit false/0/no. */
function ignored(v: string | undefined): boolean {
  if (v === undefined || v === '') return false;
  return !['false', '0', 'no'].includes(v.trim().toLowerCase());
}

function registrationFor(
  c: ContainerDescriptor,
  host: HostFacts,
  p: ServicePort,
  isGroup: boolean,
): Registration | undefined {
  const md = serviceMetadata(c, p.containerPort);
  const v = md.values;
  if (ignored(v.get('ignore'))) return undefined;
  const warnings: string[] = [];

  let name = v.get('name')?.trim() ?? '';
  if (name === '') {
    if (host.explicit === true) return undefined;
    name = defaultServiceName(c);
  }
  if (isGroup && !md.fromPort.has('name')) name = `${name}-${p.containerPort}`;

  const udp = p.protocol === 'udp' ? ':udp' : '';
  let id = `${host.nodeName}:${c.name}:${p.containerPort}${udp}`;
  const customId = v.get('id')?.trim() ?? '';
  let idLabel: string | undefined;
  if (customId !== '') {
    idLabel = md.fromPort.has('id') ? `SERVICE_${p.containerPort}_ID` : 'SERVICE_ID';
    // One SERVICE_ID for several ports would make the ports overwrite each
    // other in the catalog (a Registrator bug): keep them apart.
    id = isGroup && !md.fromPort.has('id') ? `${customId}:${p.containerPort}${udp}` : customId;
  }
  if (id.includes('/')) {
    warnings.push(`SERVICE_ID "${id}" contains "/"; replaced by "_"`);
    id = id.replaceAll('/', '_');
  }

  const tags = uniq([
    ...splitTags(v.get('tags') ?? ''),
    ...(host.tags ?? []),
    ...(p.protocol === 'udp' ? ['udp'] : []),
  ]);

  const address = p.address === '' ? host.hostIp : p.address;

  const meta: Record<string, string> = {};
  for (const [k, val] of v) {
    if (RESERVED.has(k) || k.startsWith('check_')) continue;
    putMeta(meta, k, val, `SERVICE_${k.toUpperCase()}`, warnings);
  }
  for (const [k, val] of Object.entries(c.labels)) {
    if (!k.startsWith(LB_LABEL_PREFIX) || k.length === LB_LABEL_PREFIX.length) continue;
    const key = META_LB_PREFIX + k.slice(LB_LABEL_PREFIX.length).replace(/[^A-Za-z0-9_-]/g, '-');
    putMeta(meta, key, val, `label ${k}`, warnings);
  }
  meta[META_BERTH_CONTAINER] = c.id;

  const instance: ServiceInstance = {
    id,
    service: name,
    tags,
    meta,
    address,
    port: p.port,
    node: host.nodeName,
    health: 'passing',
    containerId: c.id,
  };
  const reg: Registration = { instance, containerPort: p.containerPort, protocol: p.protocol, warnings };
  if (idLabel !== undefined) reg.idLabel = idLabel;
  const check = checkFor(v, address, p.port, warnings);
  if (check !== undefined) {
    reg.check = check;
    // The Catalog holds one TTL check per instance: berth runs HTTP/HTTPS/TCP
    // checks itself and feeds the results into it; nobody would run a script.
    if (check.kind === 'script') {
      warnings.push('SERVICE_CHECK_SCRIPT is not run by berth; use a container health check');
    }
  }
  instance.health = initialHealth(c.health, check);
  return reg;
}

function putMeta(
  meta: Record<string, string>,
  key: string,
  value: string,
  what: string,
  warnings: string[],
): void {
  if (!META_KEY.test(key)) {
    warnings.push(`${what}: meta key "${key}" must match [A-Za-z0-9_-]{1,128}; left out`);
    return;
  }
  if (value.length > META_VALUE_MAX) {
    warnings.push(`${what}: value longer than ${META_VALUE_MAX} characters; left out`);
    return;
  }
  meta[key] = value;
}

/**
 * Image base name without registry, path, tag or digest:
 * `reg:5000/team/app:1` → `app`, `busybox@sha256:…` → `busybox`.
 */
export function defaultServiceName(c: Pick<ContainerDescriptor, 'image' | 'imageName'>): string {
  const repo = c.imageName !== '' ? c.imageName : c.image;
  let base = repo.slice(repo.lastIndexOf('/') + 1);
  const at = base.indexOf('@');
  if (at !== -1) base = base.slice(0, at);
  const colon = base.indexOf(':');
  if (colon !== -1) base = base.slice(0, colon);
  return base === '' ? 'unnamed' : base;
}

export function splitTags(s: string): string[] {
  return s
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function uniq(items: string[]): string[] {
  return [...new Set(items)];
}

/**
 * Registrator's `buildCheck`: the first of http, https, script, ttl, tcp
 * wins; http/https/tcp target the registered address and port; `$SERVICE_IP`
 * and `$SERVICE_PORT` are expanded in scripts.
 */
function checkFor(
  v: Map<string, string>,
  address: string,
  port: number,
  warnings: string[],
): CheckSpec | undefined {
  const get = (k: string): string | undefined => {
    const x = v.get(k)?.trim();
    return x === undefined || x === '' ? undefined : x;
  };
  const interval = get('check_interval') ?? DEFAULT_CHECK_INTERVAL;
  const timeout = get('check_timeout');
  const hostPort = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  let check: CheckSpec | undefined;
  const http = get('check_http');
  const https = get('check_https');
  const script = get('check_script');
  const ttl = get('check_ttl');
  const tcp = get('check_tcp');
  if (http !== undefined || https !== undefined) {
    const kind = http !== undefined ? 'http' : 'https';
    const path = http ?? https ?? '/';
    check = { kind, url: `${kind}://${hostPort}${path.startsWith('/') ? '' : '/'}${path}`, interval };
    if (timeout !== undefined) check.timeout = timeout;
    const method = get('check_http_method');
    if (method !== undefined) check.method = method;
  } else if (script !== undefined) {
    check = {
      kind: 'script',
      script: script.replaceAll('$SERVICE_IP', address).replaceAll('$SERVICE_PORT', String(port)),
      interval,
    };
  } else if (ttl !== undefined) {
    check = { kind: 'ttl', ttl };
  } else if (tcp !== undefined) {
    check = { kind: 'tcp', address: hostPort, interval };
    if (timeout !== undefined) check.timeout = timeout;
  }
  const status = get('check_initial_status');
  if (status !== undefined) {
    if (check === undefined) {
      warnings.push('SERVICE_CHECK_INITIAL_STATUS without a check; ignored');
    } else if (CHECK_STATUSES.includes(status.toLowerCase())) {
      check.initialStatus = status.toLowerCase() as CheckStatus;
    } else {
      warnings.push(
        `SERVICE_CHECK_INITIAL_STATUS: "${status}" is not one of passing, warning, critical; ignored`,
      );
    }
  }
  return check;
}

/**
 * Health to register with: the runtime's verdict when it has one; while it
 * has none yet (`starting`), or while a check berth runs (HTTP, HTTPS, TCP)
 * has not run, SERVICE_CHECK_INITIAL_STATUS or Consul's default for a new
 * check (critical). No check at all: passing, as Consul reports a service
 * without checks.
 */
export function initialHealth(
  runtimeHealth: ContainerDescriptor['health'],
  check: CheckSpec | undefined,
): ServiceInstance['health'] {
  switch (runtimeHealth) {
    case 'healthy':
      return 'passing';
    case 'unhealthy':
      return 'critical';
    case 'starting':
      return check?.initialStatus ?? 'critical';
    default:
      return isProbed(check) ? (check.initialStatus ?? 'critical') : 'passing';
  }
}
