import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { isIpAddress } from '../discovery/instance.js';

/**
 * Where a label may make HAProxy listen. `berth.lb.port` and `berth.lb.bind`
 * come from image and container labels, i.e. from whoever built the image:
 * without a limit a label could take port 22 or 443 on every address of the
 * host (HAProxy runs as root). Each entry is `ADDRESS:PORTS`:
 *
 * - ADDRESS: an IP (`10.0.0.1`, `[::1]`), `loopback` (127.0.0.0/8 and ::1),
 *   `gateway` (the bridge gateway the agent runs containers behind) or `*`
 *   (any address, `0.0.0.0` and `::` included);
 * - PORTS: `N` or `N-M`.
 */
export const DEFAULT_FRONTEND_ALLOW = ['loopback:1024-65535', 'gateway:1024-65535'] as const;

interface AllowEntry {
  address: string;
  lo: number;
  hi: number;
}

export class FrontendAllowList {
  private readonly entries: AllowEntry[];

  /** `gateway`: the bridge gateway address, when the agent has one (entries naming `gateway` match nothing without). */
  constructor(
    entries: readonly string[],
    private readonly gateway?: string,
    field = 'frontendAllow',
  ) {
    this.entries = entries.map((e, i) => parseEntry(e, `${field}[${i}]`));
  }

  /** Why a frontend on `address:port` is not allowed, or undefined when it is. */
  problem(address: string, port: number): string | undefined {
    for (const e of this.entries) {
      if (port < e.lo || port > e.hi) continue;
      if (this.matches(e.address, address)) return undefined;
    }
    return `berth.lb.port/berth.lb.bind: ${address.includes(':') ? `[${address}]` : address}:${port} is not in the agent's frontend allow-list (haproxy.frontendAllow: ${this.describe()})`;
  }

  describe(): string {
    return this.entries.map((e) => `${e.address}:${e.lo === e.hi ? e.lo : `${e.lo}-${e.hi}`}`).join(', ');
  }

  private matches(pattern: string, address: string): boolean {
    if (pattern === '*') return true;
    if (pattern === 'loopback') return address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);
    if (pattern === 'gateway') return this.gateway !== undefined && address === this.gateway;
    return pattern === address;
  }
}

function parseEntry(raw: string, field: string): AllowEntry {
  const bad = (why: string) =>
    new InvalidArgumentError(`${field}: ${JSON.stringify(raw)} ${why} (ADDRESS:PORT or ADDRESS:LOW-HIGH)`, {
      field,
    });
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})(?:-(\d{1,5}))?$/.exec(raw.trim());
  if (m === null) throw bad('is not an allow-list entry');
  let address = m[1] ?? '';
  if (address.startsWith('[')) address = address.slice(1, -1);
  if (!['*', 'loopback', 'gateway'].includes(address) && !isIpAddress(address)) {
    throw bad('names neither an IP address nor loopback, gateway or *');
  }
  const lo = Number(m[2]);
  const hi = m[3] === undefined ? lo : Number(m[3]);
  if (lo < 1 || hi > 65535 || lo > hi) throw bad('has a port range outside 1-65535');
  return { address, lo, hi };
}
