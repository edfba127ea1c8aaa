import { InvalidArgumentError } from '../base/errors.js';
import type { PortMapping } from '../types.js';
import { isIpv4 } from './cidr.js';

const MAX_RANGE = 1000;

/**
 * Parses one Docker-style publish spec into mappings:
 * `[hostIp:][hostPort[-end]:]containerPort[-end][/tcp|udp]`.
 * `80` and `:80` publish on a free host port (hostPort 0); ranges map pairwise.
 */
export function parsePortSpec(spec: string, field = 'ports'): PortMapping[] {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `${field}: "${spec}" ${why} (expected [hostIp:]hostPort:containerPort[/tcp|udp])`,
      { field },
    );
  const s = spec.trim();
  if (s === '') throw bad('is empty');
  const slash = s.lastIndexOf('/');
  const body = slash >= 0 ? s.slice(0, slash) : s;
  const proto = slash >= 0 ? s.slice(slash + 1).toLowerCase() : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') throw bad(`has protocol "${proto}", not tcp or udp`);
  if (body.startsWith('[')) throw bad('uses an IPv6 host address, which berth does not publish on');
  const parts = body.split(':');
  let hostIp = '0.0.0.0';
  let hostPart = '';
  let containerPart: string;
  if (parts.length === 1) {
    containerPart = parts[0] ?? '';
  } else if (parts.length === 2) {
    hostPart = parts[0] ?? '';
    containerPart = parts[1] ?? '';
  } else if (parts.length === 3) {
    hostIp = parts[0] || '0.0.0.0';
    hostPart = parts[1] ?? '';
    containerPart = parts[2] ?? '';
  } else throw bad('has too many ":"');
  if (!isIpv4(hostIp)) throw bad(`has host address "${hostIp}", not an IPv4 address`);
  const cRange = parseRange(containerPart, 1);
  if (!cRange) throw bad(`has container port "${containerPart}", not a port 1-65535 or range`);
  const hRange = hostPart === '' ? undefined : parseRange(hostPart, 0);
  if (hostPart !== '' && !hRange) throw bad(`has host port "${hostPart}", not a port 0-65535 or range`);
  const cCount = cRange[1] - cRange[0] + 1;
  if (hRange && hRange[0] !== 0 && hRange[1] - hRange[0] + 1 !== cCount)
    throw bad('maps host and container port ranges of different lengths');
  if (hRange && hRange[0] === 0 && hRange[1] !== 0) throw bad('has a host range starting at 0');
  const out: PortMapping[] = [];
  for (let i = 0; i < cCount; i++) {
    const hostPort = !hRange || hRange[0] === 0 ? 0 : hRange[0] + i;
    out.push({ containerPort: cRange[0] + i, protocol: proto, hostIp, hostPort });
  }
  return out;
}

function parseRange(text: string, min: number): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < min || b > 65535 || b < a || b - a >= MAX_RANGE) return undefined;
  return [a, b];
}

/** Whether a mapping asks for publishing at all (`hostIp: ''` means only exposed). */
export function isPublished(p: PortMapping): boolean {
  return p.hostIp !== '';
}

/**
 * Checks mappings handed to `attach` (they may come from an API client, not
 * from `parsePortSpec`) and rejects duplicates that would make two DNAT rules
 * for one host socket.
 */
export function validatePortMappings(ports: PortMapping[], field = 'ports'): PortMapping[] {
  const seen = new Map<string, PortMapping>();
  const out: PortMapping[] = [];
  ports.forEach((p, i) => {
    const f = `${field}[${i}]`;
    if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535)
      throw new InvalidArgumentError(`${f}.containerPort: ${p.containerPort} is not a port 1-65535`, {
        field: f,
      });
    if (p.protocol !== 'tcp' && p.protocol !== 'udp')
      throw new InvalidArgumentError(`${f}.protocol: "${String(p.protocol)}" is not tcp or udp`, {
        field: f,
      });
    if (!Number.isInteger(p.hostPort) || p.hostPort < 0 || p.hostPort > 65535)
      throw new InvalidArgumentError(`${f}.hostPort: ${p.hostPort} is not a port 0-65535`, { field: f });
    if (p.hostIp !== '' && !isIpv4(p.hostIp))
      throw new InvalidArgumentError(`${f}.hostIp: "${p.hostIp}" is not an IPv4 address`, { field: f });
    const norm: PortMapping = {
      containerPort: p.containerPort,
      protocol: p.protocol,
      hostIp: p.hostIp,
      hostPort: p.hostPort,
    };
    if (isPublished(norm) && norm.hostPort !== 0) {
      for (const [k, other] of seen) {
        if (!k.endsWith(`/${norm.protocol}:${norm.hostPort}`)) continue;
        if (other.hostIp === norm.hostIp || other.hostIp === '0.0.0.0' || norm.hostIp === '0.0.0.0')
          throw new InvalidArgumentError(
            `${f}: host port ${norm.hostIp}:${norm.hostPort}/${norm.protocol} is published twice`,
            { field: f },
          );
      }
      seen.set(`${norm.hostIp}/${norm.protocol}:${norm.hostPort}`, norm);
    }
    out.push(norm);
  });
  return out;
}

/** `0.0.0.0:8080->80/tcp`, for messages and logs. */
export function formatPort(p: PortMapping): string {
  return isPublished(p)
    ? `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`
    : `${p.containerPort}/${p.protocol}`;
}
