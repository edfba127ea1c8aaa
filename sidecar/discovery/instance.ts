import { isIP } from 'node:net';
import type { ServiceInstance } from './types.js';

/**
 * Checks on what a catalog instance says about where it listens, for every
 * reader that puts `address` or `port` somewhere they are interpreted: the
 * HAProxy config and its Runtime API (where `;`, `#`, quotes, `$` and
 * newlines are syntax) and DNS answers. Catalog entries come from anyone
 * with write access to Consul (anyone when its ACLs are off), so a reader
 * drops an instance these reject and serves the rest.
 */

/** Longest DNS name accepted (RFC 1035: 253 characters in text form). */
export const MAX_DNS_NAME = 253;

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True for an IPv4 or IPv6 address without zone (`fe80::1%eth0` is refused: `%` is syntax in HAProxy's config). */
export function isIpAddress(s: string): boolean {
  const v = isIP(s);
  if (v === 4) return true;
  return v === 6 && /^[0-9A-Fa-f:.]+$/.test(s);
}

/** True for a DNS name of letters, digits and `-` in dot-separated labels of 1-63 (RFC 1123), at most 253 characters. */
export function isDnsName(s: string): boolean {
  if (s.length === 0 || s.length > MAX_DNS_NAME) return false;
  const labels = s.split('.');
  // All-numeric final label: an IPv4 look-alike that isIP refused (`1.2.3.999`).
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return false;
  return labels.every((l) => DNS_LABEL.test(l));
}

/** True for an integer in 1-65535. */
export function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

/**
 * Why `inst` cannot be routed to or answered for (naming the field), or
 * undefined when its address is an IP address or a strict DNS name and its
 * port an integer in 1-65535.
 */
export function instanceEndpointProblem(inst: Pick<ServiceInstance, 'address' | 'port'>): string | undefined {
  const { address, port } = inst;
  if (typeof address !== 'string' || !(isIpAddress(address) || isDnsName(address))) {
    return `address: ${JSON.stringify(String(address).slice(0, 80))} is neither an IP address nor a DNS name (letters, digits, - and . only)`;
  }
  if (!isPort(port)) {
    return `port: ${JSON.stringify(port)} is not an integer port (1-65535)`;
  }
  return undefined;
}
