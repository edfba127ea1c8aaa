import type { ServiceInstance } from './types.js';

/** Meta keys berth writes into Consul to mark what it owns; stripped again when reading. */
export const META_NODE = 'berth-node';
export const META_CONTAINER = 'berth-container-id';

export const checkIdOf = (serviceId: string): string => `service:${serviceId}`;
export const maintenanceCheckIdOf = (serviceId: string): string => `_service_maintenance:${serviceId}`;
const NODE_MAINTENANCE = '_node_maintenance';

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRec(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

const RANK: Record<string, number> = { passing: 0, warning: 1, critical: 2 };

/** Worst status of a set of Consul checks; a maintenance check wins over everything. */
export function healthOfChecks(checks: unknown[], serviceId: string): ServiceInstance['health'] {
  let worst: 'passing' | 'warning' | 'critical' = 'passing';
  for (const c of checks) {
    if (!isRec(c)) continue;
    const id = str(c.CheckID);
    if (id === NODE_MAINTENANCE || id === maintenanceCheckIdOf(serviceId)) return 'maintenance';
    const status = str(c.Status);
    if (status === 'passing' || status === 'warning' || status === 'critical') {
      if ((RANK[status] ?? 0) > (RANK[worst] ?? 0)) worst = status;
    }
  }
  return worst;
}

/** Splits berth's own meta keys off what users put in meta. */
export function splitMeta(meta: Record<string, string>): {
  meta: Record<string, string>;
  owner?: string;
  containerId?: string;
} {
  const { [META_NODE]: owner, [META_CONTAINER]: containerId, ...rest } = meta;
  const out: { meta: Record<string, string>; owner?: string; containerId?: string } = { meta: rest };
  if (owner !== undefined) out.owner = owner;
  if (containerId !== undefined) out.containerId = containerId;
  return out;
}

/** One entry of `/v1/health/service/<name>` → an instance, or undefined when it is not one. */
export function instanceFromHealthEntry(entry: unknown): ServiceInstance | undefined {
  if (!isRec(entry) || !isRec(entry.Node) || !isRec(entry.Service)) return undefined;
  const node = entry.Node;
  const svc = entry.Service;
  const id = str(svc.ID);
  const service = str(svc.Service);
  if (id === '' || service === '') return undefined;
  const nodeAddress = str(node.Address);
  const { meta, containerId } = splitMeta(stringMap(svc.Meta));
  const inst: ServiceInstance = {
    id,
    service,
    tags: strings(svc.Tags),
    meta,
    // Consul's own rule: an instance without an address is reached at its node's.
    address: str(svc.Address) || nodeAddress,
    port: typeof svc.Port === 'number' ? svc.Port : 0,
    node: str(node.Node),
    health: healthOfChecks(Array.isArray(entry.Checks) ? entry.Checks : [], id),
  };
  if (nodeAddress !== '') inst.nodeAddress = nodeAddress;
  const dc = str(node.Datacenter);
  if (dc !== '') inst.datacenter = dc;
  if (containerId !== undefined) inst.containerId = containerId;
  return inst;
}

/** Agent-local services (`/v1/agent/services`) owned by `nodeName`, with health from `/v1/agent/checks`. */
export function ownedFromAgent(
  services: unknown,
  checks: unknown,
  nodeName: string,
  nodeAddress: string | undefined,
  datacenter: string | undefined,
): ServiceInstance[] {
  if (!isRec(services)) return [];
  const allChecks = isRec(checks) ? Object.values(checks) : [];
  const out: ServiceInstance[] = [];
  for (const svc of Object.values(services)) {
    if (!isRec(svc)) continue;
    const { meta, owner, containerId } = splitMeta(stringMap(svc.Meta));
    if (owner !== nodeName) continue;
    const id = str(svc.ID);
    const mine = allChecks.filter(
      (c) => isRec(c) && (str(c.ServiceID) === id || str(c.CheckID) === NODE_MAINTENANCE),
    );
    const inst: ServiceInstance = {
      id,
      service: str(svc.Service),
      tags: strings(svc.Tags),
      meta,
      address: str(svc.Address) || (nodeAddress ?? ''),
      port: typeof svc.Port === 'number' ? svc.Port : 0,
      node: nodeName,
      health: healthOfChecks(mine, id),
    };
    if (nodeAddress !== undefined) inst.nodeAddress = nodeAddress;
    const dc = str(svc.Datacenter) || datacenter;
    if (dc !== undefined && dc !== '') inst.datacenter = dc;
    if (containerId !== undefined) inst.containerId = containerId;
    out.push(inst);
  }
  return out;
}

/** Status of each check by id, from `/v1/agent/checks`. */
export function checkStatuses(checks: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!isRec(checks)) return out;
  for (const [id, c] of Object.entries(checks)) if (isRec(c)) out.set(id, str(c.Status));
  return out;
}

/** Service names of `/v1/catalog/services` (an object keyed by name). */
export function serviceNames(body: unknown): string[] {
  return isRec(body) ? Object.keys(body) : [];
}
