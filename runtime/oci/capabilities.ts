import { InvalidArgumentError } from '../base/errors.js';

/** Every Linux capability up to 6.x, in kernel order. */
export const ALL_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/**
 * Docker's default set (moby oci/caps/defaults.go) without CAP_NET_RAW, as
 * Podman's: raw sockets let a container forge source addresses (around the
 * DNS server's per-address rate limit and TCP cap) and spoof ARP/ICMP on the
 * bridge. `--cap-add NET_RAW` gives it back (busybox `ping` needs it).
 */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const KNOWN = new Set<string>(ALL_CAPS);

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`. */
export function normaliseCap(input: unknown, field: string): string {
  if (typeof input !== 'string') {
    throw new InvalidArgumentError(`${field}: must be a capability name, got ${JSON.stringify(input)}`, {
      field,
    });
  }
  const up = input.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!KNOWN.has(name)) {
    throw new InvalidArgumentError(`${field}: unknown capability ${JSON.stringify(input)}`, { field });
  }
  return name;
}

/**
 * Docker's order of operations: start from the default set (or everything
 * for `add ALL`), drop (everything for `drop ALL`), then add explicit names
 * back, so `--cap-drop ALL --cap-add NET_BIND_SERVICE` leaves just that one.
 */
export function resolveCaps(add: string[], drop: string[]): string[] {
  let caps = new Set<string>(add.includes('ALL') ? ALL_CAPS : DEFAULT_CAPS);
  if (drop.includes('ALL')) caps = new Set();
  for (const c of drop) caps.delete(c);
  for (const c of add) if (c !== 'ALL') caps.add(c);
  return ALL_CAPS.filter((c) => caps.has(c));
}

/**
 * Capability names in a /proc/<pid>/status mask (`CapBnd: 000001fffeffffff`).
 * Bit n is capability n in kernel order, which `ALL_CAPS` follows.
 */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPS.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The agent's own bounding set, from `/proc/self/status` text; undefined when unreadable. */
export function boundingCapsFromStatus(statusText: string): string[] | undefined {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText);
  return m?.[1] ? capsFromMask(m[1]) : undefined;
}
