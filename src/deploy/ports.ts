import type { ComposeError } from '../compose/errors.js';
import type { ComposeService } from '../compose/types.js';

/**
 * How a service's Compose `ports` become what its replicas publish and the
 * HAProxy frontend in front of them (src/deploy/README.md has the table).
 * A published port in the default `ingress` mode is one HAProxy frontend on
 * that port balancing every replica; each replica publishes its target port
 * only on an ephemeral loopback port (registered in the catalog, the backend's
 * server), so replicas never clash on a host port.
 */
export interface PortPlan {
  /** The runtime's port specs for each replica (Docker notation). */
  publish: string[];
  /** The balanced port: HAProxy frontend `port` (on `bind`) → the replicas' `target`. */
  lb?: { port: number; target: number; bind?: string; mode: 'http' | 'tcp' };
}

type Refuse = (path: ReadonlyArray<string | number>, reason: string) => ComposeError;

export function planPorts(svc: ComposeService, replicas: number, refuse: Refuse): PortPlan {
  const plan: PortPlan = { publish: [] };
  svc.ports.forEach((p, i) => {
    const at = ['ports', i];
    if (p.protocol === 'sctp') throw refuse(at, 'sctp is not supported (tcp or udp)');
    const proto = p.protocol === 'udp' ? '/udp' : '';
    const ip = p.hostIp === undefined ? '' : p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
    if (p.published === undefined) {
      // Compose publishes it on an ephemeral host port: one per replica, no clash.
      plan.publish.push(ip === '' ? `${p.target}${proto}` : `${ip}::${p.target}${proto}`);
      return;
    }
    const m = /^(\d+)(?:-(\d+))?$/.exec(p.published);
    if (m === null || (m[2] !== undefined && m[2] !== m[1])) {
      throw refuse(
        at,
        `published range ${JSON.stringify(p.published)} is not supported: berth balances the replicas behind one published port (publish one port)`,
      );
    }
    const published = Number(m[1]);
    if (p.mode === 'host') {
      if (replicas > 1) {
        throw refuse(
          at,
          `mode host publishes ${published} on the host from every replica: with ${replicas} replicas they would clash (use the default ingress mode: one HAProxy frontend balancing them)`,
        );
      }
      plan.publish.push(`${ip === '' ? '' : `${ip}:`}${published}:${p.target}${proto}`);
      return;
    }
    if (p.protocol === 'udp') {
      throw refuse(
        at,
        'a published udp port cannot be balanced (HAProxy balances tcp); use mode: host with one replica',
      );
    }
    if (plan.lb !== undefined) {
      throw refuse(
        at,
        `a second published port (${published}) is not supported: berth balances one published port per service (${plan.lb.port} here); split the service or use mode: host`,
      );
    }
    const mode = p.appProtocol === undefined || /^(http|h2c?)$/i.test(p.appProtocol) ? 'http' : 'tcp';
    plan.lb = {
      port: published,
      target: p.target,
      ...(p.hostIp !== undefined ? { bind: p.hostIp } : {}),
      mode,
    };
    plan.publish.push(`127.0.0.1::${p.target}`);
  });
  return plan;
}

/** The catalog service name of a balanced service: `<project>-<service>`, so two projects never share a backend. */
export function lbServiceName(project: string, service: string): string {
  return `${project}-${service}`;
}

/**
 * Registration and HAProxy labels for a balanced service: the balanced port
 * registers as `<project>-<service>`, the replicas' other ports are left out
 * of the catalog (they would carry the same `berth.lb.*` meta and ask for the
 * same frontend twice). A label the service sets itself wins.
 */
export function lbLabels(project: string, svc: ComposeService, plan: PortPlan): Record<string, string> {
  const lb = plan.lb;
  if (lb === undefined) return {};
  const out: Record<string, string> = {
    [`SERVICE_${lb.target}_NAME`]: lbServiceName(project, svc.name),
    'berth.lb.port': String(lb.port),
    'berth.lb.mode': lb.mode,
    ...(lb.bind !== undefined ? { 'berth.lb.bind': lb.bind } : {}),
  };
  for (const p of svc.ports) {
    if (p.target !== lb.target) out[`SERVICE_${p.target}_IGNORE`] = 'true';
  }
  for (const k of Object.keys(out)) if (svc.labels[k] !== undefined) delete out[k];
  return out;
}
