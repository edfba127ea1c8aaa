import { InvalidArgumentError } from '../base/errors.js';

/** An IPv4 subnet as integers, so IPAM can walk it without string juggling. */
export interface Subnet {
  /** As given, normalised (`10.88.0.0/16`). */
  cidr: string;
  network: number;
  prefix: number;
  /** Number of addresses including network and broadcast. */
  size: number;
  /** First usable address: where the bridge (and the embedded DNS) lives. */
  gateway: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

export function ipToInt(ip: string, field = 'ip'): number {
  if (!isIpv4(ip)) throw new InvalidArgumentError(`${field}: "${ip}" is not an IPv4 address`, { field });
  const m = IPV4.exec(ip) ?? [];
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseSubnet(cidr: string, field = 'subnet'): Subnet {
  const [addr, bits, extra] = cidr.split('/');
  const prefix = Number(bits);
  if (
    addr === undefined ||
    extra !== undefined ||
    !/^\d{1,2}$/.test(bits ?? '') ||
    prefix < 8 ||
    prefix > 30
  ) {
    throw new InvalidArgumentError(
      `${field}: "${cidr}" is not an IPv4 CIDR with a prefix between /8 and /30 (e.g. 10.88.0.0/16)`,
      {
        field,
      },
    );
  }
  const base = ipToInt(addr, field);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (base & mask) >>> 0;
  if (network !== base) {
    throw new InvalidArgumentError(
      `${field}: "${cidr}" has host bits set (did you mean ${intToIp(network)}/${prefix}?)`,
      {
        field,
      },
    );
  }
  const size = 2 ** (32 - prefix);
  return { cidr: `${intToIp(network)}/${prefix}`, network, prefix, size, gateway: intToIp(network + 1) };
}

export function subnetContains(s: Subnet, ip: string): boolean {
  if (!isIpv4(ip)) return false;
  const n = ipToInt(ip);
  return n >= s.network && n < s.network + s.size;
}
