import { FailedPreconditionError, InvalidArgumentError } from '../base/errors.js';
import { intToIp, ipToInt, isIpv4, parseSubnet, type Subnet } from './cidr.js';

/** Where user-defined networks get their subnets unless one is given: as Podman's, one /24 each. */
export const DEFAULT_POOL = '10.89.0.0/16';
export const DEFAULT_POOL_PREFIX = 24;

/** A subnet in use and who uses it (for the error that names the clash). */
export interface TakenSubnet {
  cidr: string;
  by: string;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** The first one of `taken` that overlaps `s`. */
export function clashOf(s: Subnet, taken: TakenSubnet[]): TakenSubnet | undefined {
  return taken.find((t) => overlaps(s, parseSubnet(t.cidr)));
}

/**
 * The first `/prefix` of `pool` that overlaps nothing in `taken` (the default
 * network, the other networks, the host's own addresses and routes).
 */
export function pickSubnet(pool: string, prefix: number, taken: TakenSubnet[]): Subnet {
  const p = parseSubnet(pool, 'networkPool');
  if (!Number.isInteger(prefix) || prefix < p.prefix || prefix > 30)
    throw new InvalidArgumentError(
      `networkPoolPrefix: /${prefix} must be between the pool's /${p.prefix} and /30`,
      { field: 'networkPoolPrefix' },
    );
  const step = 2 ** (32 - prefix);
  const parsed = taken.map((t) => parseSubnet(t.cidr));
  for (let n = p.network; n < p.network + p.size; n += step) {
    const s = parseSubnet(`${intToIp(n)}/${prefix}`);
    if (!parsed.some((t) => overlaps(s, t))) return s;
  }
  throw new FailedPreconditionError(
    `network: no free /${prefix} left in the pool ${p.cidr} (${p.size / step} subnets, all in use or overlapping the host's); remove networks or give --subnet`,
  );
}

/**
 * A user's `--subnet` and `--gateway`: the subnet must not overlap anything
 * in `taken`; the gateway (default: the first address) must be a host
 * address of the subnet.
 */
export function explicitSubnet(cidr: string, gateway: string | undefined, taken: TakenSubnet[]): Subnet {
  const s = parseSubnet(cidr, 'subnet');
  const clash = clashOf(s, taken);
  if (clash) throw new FailedPreconditionError(`subnet: ${s.cidr} overlaps ${clash.cidr} of ${clash.by}`);
  if (gateway === undefined || gateway === '') return s;
  if (!isIpv4(gateway))
    throw new InvalidArgumentError(`gateway: "${gateway}" is not an IPv4 address`, { field: 'gateway' });
  const g = ipToInt(gateway, 'gateway');
  if (g <= s.network || g >= s.network + s.size - 1)
    throw new InvalidArgumentError(
      `gateway: ${gateway} is not a host address of ${s.cidr} (${intToIp(s.network + 1)} to ${intToIp(s.network + s.size - 2)})`,
      { field: 'gateway' },
    );
  return { ...s, gateway };
}

/** Subnets of `ip -4 -o addr show` and destinations of `ip -4 route show` output. */
export function hostSubnets(addrOutput: string, routeOutput: string): TakenSubnet[] {
  const out: TakenSubnet[] = [];
  for (const line of addrOutput.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (!m?.[2] || !m[3]) continue;
    const cidr = networkOf(m[2], Number(m[3]));
    if (cidr) out.push({ cidr, by: `the host's interface ${m[1]}` });
  }
  for (const line of routeOutput.split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?\s/.exec(line);
    if (!m?.[1]) continue;
    const cidr = networkOf(m[1], m[2] === undefined ? 32 : Number(m[2]));
    if (cidr) out.push({ cidr, by: `a host route (${line.trim()})` });
  }
  return out;
}

/** `a.b.c.d/p` with the host bits cleared; undefined for prefixes parseSubnet does not take (/0-/7, /31, /32). */
function networkOf(ip: string, prefix: number): string | undefined {
  if (!isIpv4(ip) || prefix < 8 || prefix > 30) return undefined;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return `${intToIp((ipToInt(ip) & mask) >>> 0)}/${prefix}`;
}
