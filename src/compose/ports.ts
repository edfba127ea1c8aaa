import type { NodeReader } from './reader.js';
import type { ComposePort } from './types.js';
import type { YNode } from './yaml-tree.js';

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

/** `ports:` in short (`"[ip:][host[-range]:]container[-range][/proto]"`) or long syntax, one entry per container port. */
export function readPorts(r: NodeReader, node: YNode, path: string): ComposePort[] {
  const out: ComposePort[] = [];
  r.seq(node, path).items.forEach((item, i) => {
    const p = `${path}[${i}]`;
    if (item.kind === 'map') out.push(readLongPort(r, item, p));
    else out.push(...parseShortPort(r, item, p));
  });
  return out;
}

function readLongPort(r: NodeReader, node: YNode, path: string): ComposePort {
  const m = r.map(node, path);
  r.onlyKeys(m, path, ['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol']);
  const target = m.entries.get('target');
  if (target === undefined) return r.fail(node, path, 'a port in long syntax needs "target"');
  const port: ComposePort = {
    target: portNumber(r, target.value, `${path}.target`),
    protocol: 'tcp',
    mode: 'ingress',
  };
  for (const [k, e] of m.entries) {
    const kp = `${path}.${k}`;
    if (k === 'published') {
      const v = r.str(e.value, kp);
      if (!/^\d+(-\d+)?$/.test(v)) r.fail(e.value, kp, `"${v}" is not a port or port range`);
      port.published = v;
    } else if (k === 'host_ip') port.hostIp = r.str(e.value, kp);
    else if (k === 'protocol') port.protocol = r.oneOf(e.value, kp, PROTOCOLS);
    else if (k === 'mode') port.mode = r.oneOf(e.value, kp, ['ingress', 'host'] as const);
    else if (k === 'name') port.name = r.str(e.value, kp);
    else if (k === 'app_protocol') port.appProtocol = r.str(e.value, kp);
  }
  return port;
}

function portNumber(r: NodeReader, node: YNode, path: string): number {
  const v = r.str(node, path);
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) r.fail(node, path, `"${v}" is not a port`);
  return n;
}

/** Splits `ip:host:container` where ip may be `[v6]` (docker's nat.ParsePortSpec rules). */
function splitSpec(spec: string): [string, string, string] | undefined {
  if (spec.startsWith('[')) {
    const end = spec.indexOf(']');
    if (end < 0) return undefined;
    const rest = spec.slice(end + 1).split(':');
    if (rest.length !== 3 || rest[0] !== '') return undefined;
    return [spec.slice(1, end), rest[1] ?? '', rest[2] ?? ''];
  }
  const parts = spec.split(':');
  if (parts.length === 1) return ['', '', parts[0] ?? ''];
  if (parts.length === 2) return ['', parts[0] ?? '', parts[1] ?? ''];
  if (parts.length === 3) return [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
  // An IPv6 host address must be bracketed, as compose-go requires.
  return undefined;
}

function range(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (m === null) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= 65535 && hi <= 65535 && lo <= hi ? [lo, hi] : undefined;
}

function parseShortPort(r: NodeReader, node: YNode, path: string): ComposePort[] {
  const raw = r.str(node, path);
  const bad = (): never => r.fail(node, path, `"${raw}" is not a port`);
  const slash = raw.lastIndexOf('/');
  const spec = slash < 0 ? raw : raw.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : raw.slice(slash + 1);
  if (!(PROTOCOLS as readonly string[]).includes(proto)) {
    r.fail(node, path, `"${raw}": "${proto}" is not one of ${PROTOCOLS.join(', ')}`);
  }
  const split = splitSpec(spec) ?? bad();
  const [hostIp, hostPart, containerPart] = split;
  const container = range(containerPart) ?? bad();
  const host = hostPart === '' ? undefined : (range(hostPart) ?? bad());
  const count = container[1] - container[0] + 1;
  if (host !== undefined && count > 1 && host[1] - host[0] + 1 !== count) {
    r.fail(node, path, `"${raw}": the host and container port ranges differ in size`);
  }
  const out: ComposePort[] = [];
  for (let i = 0; i < count; i++) {
    const port: ComposePort = {
      target: container[0] + i,
      protocol: proto as ComposePort['protocol'],
      mode: 'ingress',
    };
    if (host !== undefined) {
      // One container port and a host range: any free port of the range (kept as a range).
      port.published = count === 1 ? hostPart : String(host[0] + i);
    }
    if (hostIp !== '') port.hostIp = hostIp;
    out.push(port);
  }
  return out;
}
