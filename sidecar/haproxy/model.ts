import { messageOf } from '../../runtime/base/errors.js';
import { instanceEndpointProblem } from '../discovery/instance.js';
import type { CatalogView, ServiceInstance } from '../discovery/types.js';
import { type LbSpec, lbSpecFromMeta, sameSpec } from './labels.js';

/** One instance a backend should route to, as the catalog says now. */
export interface DesiredServer {
  instanceId: string;
  address: string;
  port: number;
  /** ready: healthy (passing or warning); drain: in maintenance (finish sessions, take no new ones). */
  state: 'ready' | 'drain';
  containerId: string | undefined;
  node: string;
  service: string;
}

export interface DesiredService {
  spec: LbSpec;
  servers: DesiredServer[];
}

/**
 * A problem with what instances declare; the affected instance or service is
 * left out, the rest is applied. kind: `label` (a `berth.lb.*` value),
 * `instance` (a catalog address or port), `service` (a frontend that cannot
 * be served: bind not allowed, port taken, refused by HAProxy).
 */
export interface LbProblem {
  kind: 'label' | 'instance' | 'service';
  service: string;
  instanceId?: string;
  message: string;
}

export interface DesiredState {
  services: Map<string, DesiredService>;
  problems: LbProblem[];
}

/**
 * The services that get a frontend and the servers each backend should hold,
 * from one catalog view (pure). Critical instances are left out; instances in
 * maintenance stay in their slot in drain. When the instances of one LB
 * service disagree about the spec (a rolling update changing a label), the
 * spec most of them carry wins (ties: the one of the lowest instance id).
 * Two services claiming one bind address and port: the lower name wins. A
 * frontend outside `allow` (the agent's frontend allow-list) is left out.
 */
export function desiredFromView(
  view: CatalogView,
  defaultBind: string,
  allow?: { problem(address: string, port: number): string | undefined },
): DesiredState {
  const problems: LbProblem[] = [];
  const groups = new Map<string, { specs: { spec: LbSpec; inst: ServiceInstance }[] }>();
  for (const inst of view.instances) {
    let spec: LbSpec | undefined;
    try {
      spec = lbSpecFromMeta(inst.service, inst.meta);
    } catch (err) {
      problems.push({ kind: 'label', service: inst.service, instanceId: inst.id, message: messageOf(err) });
      continue;
    }
    if (spec === undefined) continue;
    // Catalog entries are anyone's input (Consul without ACLs): what reaches a
    // server line or a Runtime API command is an IP or a strict DNS name and a port.
    const bad = instanceEndpointProblem(inst);
    if (bad !== undefined) {
      problems.push({ kind: 'instance', service: spec.name, instanceId: inst.id, message: bad });
      continue;
    }
    let g = groups.get(spec.name);
    if (g === undefined) {
      g = { specs: [] };
      groups.set(spec.name, g);
    }
    g.specs.push({ spec, inst });
  }

  const services = new Map<string, DesiredService>();
  for (const name of [...groups.keys()].sort()) {
    const g = groups.get(name);
    if (g === undefined) continue;
    const spec = winningSpec(g.specs);
    if (g.specs.some((s) => !sameSpec(s.spec, spec))) {
      problems.push({
        kind: 'label',
        service: name,
        message: `instances disagree on berth.lb.* labels; using those of most instances`,
      });
    }
    const servers: DesiredServer[] = [];
    for (const { inst } of g.specs.sort((a, b) => a.inst.id.localeCompare(b.inst.id))) {
      if (inst.health === 'critical') continue;
      servers.push({
        instanceId: inst.id,
        address: inst.address,
        port: inst.port,
        state: inst.health === 'maintenance' ? 'drain' : 'ready',
        containerId: inst.containerId,
        node: inst.node,
        service: inst.service,
      });
    }
    services.set(name, { spec, servers });
  }

  const taken = new Map<string, string>();
  for (const [name, svc] of services) {
    const bind = svc.spec.bind ?? defaultBind;
    const notAllowed = allow?.problem(bind, svc.spec.port);
    if (notAllowed !== undefined) {
      problems.push({ kind: 'service', service: name, message: notAllowed });
      services.delete(name);
      continue;
    }
    const key = `${bind}:${svc.spec.port}`;
    const owner = taken.get(key);
    if (owner !== undefined) {
      problems.push({
        kind: 'service',
        service: name,
        message: `berth.lb.port: ${key} is already the frontend of service ${owner}`,
      });
      services.delete(name);
      continue;
    }
    taken.set(key, name);
  }
  return { services, problems };
}

function winningSpec(specs: { spec: LbSpec; inst: ServiceInstance }[]): LbSpec {
  const counts: { spec: LbSpec; n: number; firstId: string }[] = [];
  for (const { spec, inst } of specs) {
    const c = counts.find((x) => sameSpec(x.spec, spec));
    if (c === undefined) counts.push({ spec, n: 1, firstId: inst.id });
    else {
      c.n++;
      if (inst.id < c.firstId) c.firstId = inst.id;
    }
  }
  counts.sort((a, b) => b.n - a.n || a.firstId.localeCompare(b.firstId));
  const best = counts[0];
  if (best === undefined) throw new Error('winningSpec: empty group');
  return best.spec;
}
