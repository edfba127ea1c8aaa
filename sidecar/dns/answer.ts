import { isIPv4, isIPv6 } from 'node:net';
import type { CatalogView, ServiceInstance } from '../discovery/types.js';
import { classify, expandIPv6, hexOfAddress, type Lookup, labelsUnder } from './names.js';
import { RCODE, type RR, TYPE } from './wire.js';

export interface TtlOptions {
  /** Service answers (A/AAAA/SRV), seconds. Default 0, as Consul: instances change quickly. */
  service: number;
  /** `<node>.node` and `<hex>.addr` answers. Default 0. */
  node: number;
  /** Container-name answers. Default 0. */
  container: number;
  /** SOA minimum, the TTL of negative answers (RFC 2308). Default 0. */
  negative: number;
  /** Per-service overrides of `service` (by service name; `*` suffix matches a prefix, like Consul's). */
  perService: Record<string, number>;
}

/** Everything a lookup needs; the server builds it once and answer() is a pure function of it. */
export interface Zone {
  /** Normalised (`consul`). */
  domain: string;
  datacenter: string;
  nodeName: string;
  nodeAddress?: string;
  /** Normalised domain container names live in (often the same as `domain`); undefined disables them. */
  containerDomain?: string;
  ttl: TtlOptions;
  /** Leave out critical and maintenance instances. */
  healthyOnly: boolean;
  /** Also leave out warning instances (Consul's `only_passing`). */
  onlyPassing: boolean;
  /** Shuffles answers (injected so tests can make it deterministic). */
  shuffle: <T>(items: T[]) => T[];
}

export interface Answer {
  rcode: number;
  answers: RR[];
  authority: RR[];
  additional: RR[];
}

/** Whether `name` is ours (answered from the catalog) rather than forwarded. */
export function isOurs(zone: Zone, name: string): boolean {
  return (
    labelsUnder(name, zone.domain) !== undefined ||
    (zone.containerDomain !== undefined && labelsUnder(name, zone.containerDomain) !== undefined)
  );
}

/**
 * Answers one question from the catalog view and container names. Consul's
 * semantics: a service with no usable instance is NXDOMAIN; an existing name
 * without records of the asked type is NODATA; both carry the SOA.
 */
export function answer(
  zone: Zone,
  qname: string,
  qtype: number,
  view: CatalogView,
  containers: ReadonlyMap<string, string | readonly string[]>,
): Answer {
  const lookup = lookupOf(zone, qname);
  const soa = soaRecord(zone, lookup.zoneApex, view.index);
  const nx = (): Answer => ({ rcode: RCODE.NXDOMAIN, answers: [], authority: [soa], additional: [] });
  const found = (answers: RR[], additional: RR[] = []): Answer =>
    answers.length > 0
      ? { rcode: RCODE.NOERROR, answers, authority: [], additional }
      : { rcode: RCODE.NOERROR, answers: [], authority: [soa], additional: [] };
  const l = lookup.lookup;

  switch (l.kind) {
    case 'apex':
      if (qtype === TYPE.SOA || qtype === TYPE.ANY) return found([{ ...soa, name: qname }]);
      return found([]);
    case 'unknown':
      return nx();
    case 'container': {
      const addresses = findContainer(containers, l.name);
      if (addresses === undefined || addresses.length === 0) return nx();
      return found(addressRecords(qname, qtype, [...addresses], zone.ttl.container));
    }
    case 'addr':
      if (!dcMatches(zone, l.dc)) return nx();
      return found(addressRecords(qname, qtype, [l.address], zone.ttl.node));
    case 'node': {
      if (!dcMatches(zone, l.dc)) return nx();
      const address = nodeAddress(zone, view, l.node);
      if (address === undefined) return nx();
      return found(addressRecords(qname, qtype, [address], zone.ttl.node));
    }
    case 'service': {
      if (!dcMatches(zone, l.dc)) return nx();
      const instances = zone.shuffle(selectInstances(zone, view, l.service, l.tag, l.dc));
      if (instances.length === 0) return nx();
      const ttl = serviceTtl(zone.ttl, instances[0]?.service ?? l.service);
      if (qtype === TYPE.SRV) {
        const { answers, additional } = srvRecords(zone, qname, instances, ttl, l.dc ?? zone.datacenter);
        return found(answers, additional);
      }
      // RFC 2782 names only have SRV records.
      if (l.rfc2782) return found([]);
      return found(
        addressRecords(
          qname,
          qtype,
          instances.map((i) => i.address),
          ttl,
        ),
      );
    }
  }
}

function lookupOf(zone: Zone, qname: string): { lookup: Lookup; zoneApex: string } {
  const labels = labelsUnder(qname, zone.domain);
  if (labels !== undefined) {
    return { lookup: classify(labels, zone.containerDomain === zone.domain), zoneApex: zone.domain };
  }
  const apex = zone.containerDomain ?? '';
  const c = labelsUnder(qname, apex) ?? [];
  const [only] = c;
  if (c.length === 0) return { lookup: { kind: 'apex' }, zoneApex: apex };
  if (c.length === 1 && only !== undefined)
    return { lookup: { kind: 'container', name: only }, zoneApex: apex };
  return { lookup: { kind: 'unknown' }, zoneApex: apex };
}

function dcMatches(zone: Zone, dc: string | undefined): boolean {
  return dc === undefined || dc === zone.datacenter.toLowerCase();
}

function usable(zone: Zone, h: ServiceInstance['health']): boolean {
  if (!zone.healthyOnly) return true;
  if (h === 'passing') return true;
  return h === 'warning' && !zone.onlyPassing;
}

function selectInstances(
  zone: Zone,
  view: CatalogView,
  service: string,
  tag: string | undefined,
  dc: string | undefined,
): ServiceInstance[] {
  return view.instances.filter(
    (i) =>
      i.service.toLowerCase() === service &&
      usable(zone, i.health) &&
      (tag === undefined || i.tags.some((t) => t.toLowerCase() === tag)) &&
      (dc === undefined || i.datacenter === undefined || i.datacenter.toLowerCase() === dc),
  );
}

function serviceTtl(ttl: TtlOptions, service: string): number {
  const exact = ttl.perService[service];
  if (exact !== undefined) return exact;
  let best: { len: number; ttl: number } | undefined;
  for (const [k, v] of Object.entries(ttl.perService)) {
    if (!k.endsWith('*')) continue;
    const prefix = k.slice(0, -1);
    if (service.startsWith(prefix) && (best === undefined || prefix.length > best.len))
      best = { len: prefix.length, ttl: v };
  }
  return best?.ttl ?? ttl.service;
}

function nodeAddress(zone: Zone, view: CatalogView, node: string): string | undefined {
  if (node === zone.nodeName.toLowerCase() && zone.nodeAddress !== undefined) return zone.nodeAddress;
  for (const i of view.instances) {
    if (i.node.toLowerCase() === node && i.nodeAddress !== undefined) return i.nodeAddress;
  }
  return undefined;
}

function findContainer(
  containers: ReadonlyMap<string, string | readonly string[]>,
  name: string,
): readonly string[] | undefined {
  const list = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : v);
  const exact = containers.get(name);
  if (exact !== undefined) return list(exact);
  for (const [k, v] of containers) if (k.toLowerCase() === name) return list(v);
  return undefined;
}

/** A/AAAA records for the addresses of the asked family (ANY: both); duplicates collapse. */
function addressRecords(name: string, qtype: number, addresses: string[], ttl: number): RR[] {
  const wantA = qtype === TYPE.A || qtype === TYPE.ANY;
  const wantAAAA = qtype === TYPE.AAAA || qtype === TYPE.ANY;
  const seen = new Set<string>();
  const out: RR[] = [];
  for (const address of addresses) {
    if (seen.has(address)) continue;
    seen.add(address);
    if (wantA && isIPv4(address)) out.push({ name, type: TYPE.A, ttl, data: { address } });
    else if (wantAAAA && isIPv6(address) && expandIPv6(address) !== undefined) {
      out.push({ name, type: TYPE.AAAA, ttl, data: { address } });
    }
  }
  return out;
}

/**
 * SRV records as Consul builds them for instances registered with an address
 * (everything berth registers): the target is the address-derived
 * `<hex>.addr.<dc>.<domain>`, and the target's address goes in the additional
 * section. (Consul uses `<node>.node.<dc>.<domain>` only for instances without
 * an address of their own; the view does not keep that distinction, and both
 * names resolve to the same address here.)
 */
function srvRecords(
  zone: Zone,
  qname: string,
  instances: ServiceInstance[],
  ttl: number,
  dc: string,
): { answers: RR[]; additional: RR[] } {
  const answers: RR[] = [];
  const additional: RR[] = [];
  const glued = new Set<string>();
  for (const i of instances) {
    const hex = hexOfAddress(i.address);
    if (hex === undefined) continue;
    const target = `${hex}.addr.${dc}.${zone.domain}`;
    answers.push({
      name: qname,
      type: TYPE.SRV,
      ttl,
      data: { priority: 1, weight: 1, port: i.port, target },
    });
    if (!glued.has(target)) {
      glued.add(target);
      additional.push(...addressRecords(target, TYPE.ANY, [i.address], ttl));
    }
  }
  return { answers, additional };
}

function soaRecord(zone: Zone, apex: string, serial: number): RR {
  return {
    name: apex,
    type: TYPE.SOA,
    ttl: zone.ttl.negative,
    data: {
      primary: `ns.${apex}`,
      admin: `hostmaster.${apex}`,
      serial: serial >>> 0,
      refresh: 3600,
      retry: 600,
      expiration: 86400,
      minimum: zone.ttl.negative,
    },
  };
}
