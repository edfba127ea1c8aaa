import { isIP } from 'node:net';
import { constants } from 'node:os';
import { InvalidArgumentError } from '../base/errors.js';
import type { PortMapping } from '../types.js';

/**
 * Small parsers for values in Docker's CLI notation; each names the field it
 * rejects. Sizes and durations are in runtime/base (size.ts, duration.ts).
 */

function bad(field: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${reason}`, { field });
}

/** Integer from a number or a decimal string. */
export function parseInteger(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw bad(
      field,
      `${JSON.stringify(v)} is not an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`,
    );
  }
  return n;
}

/** `1.5` CPUs → CFS quota over a 100 ms period. */
export function parseCpus(v: unknown, field: string, hostCpus: number): { quota: number; period: number } {
  const n =
    typeof v === 'number'
      ? v
      : typeof v === 'string' && /^\d*\.?\d+$/.test(v.trim())
        ? Number(v)
        : Number.NaN;
  if (!Number.isFinite(n) || n < 0.01 || n > hostCpus) {
    throw bad(field, `${JSON.stringify(v)} is not a CPU count from 0.01 to ${hostCpus} (this host's CPUs)`);
  }
  const period = 100_000;
  return { quota: Math.round(n * period), period };
}

/** `0-1`, `0,2`, `0-2,5`. */
export function parseCpuset(v: unknown, field: string): string {
  if (typeof v === 'string' && /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v.trim())) {
    const s = v.trim();
    for (const part of s.split(',')) {
      const [a, b] = part.split('-').map(Number);
      if (b !== undefined && a !== undefined && b < a)
        throw bad(field, `${JSON.stringify(v)}: range ${part} is reversed`);
    }
    return s;
  }
  throw bad(field, `${JSON.stringify(v)} is not a CPU list (e.g. 0-1 or 0,2)`);
}

function portNumber(s: string, field: string, what: string, allowZero = false): number {
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw bad(
      field,
      `${what} ${JSON.stringify(s)} is not a port number (${allowZero ? '0 for any free port, or ' : ''}1-65535)`,
    );
  }
  return n;
}

/**
 * `[ip:]host:container[/proto]`, `ip::container` and `container[/proto]`.
 * A bare container port is published on an ephemeral host port as Docker does:
 * hostIp `0.0.0.0` with hostPort 0 (the network manager picks the port);
 * hostIp '' with hostPort 0 means exposed but not published.
 */
export function parsePort(v: unknown, field: string): PortMapping {
  if (typeof v !== 'string' || v.trim() === '')
    throw bad(field, `must be [ip:]hostPort:containerPort[/tcp|udp], got ${JSON.stringify(v)}`);
  let s = v.trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    const p = s.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw bad(field, `protocol ${JSON.stringify(p)} must be tcp or udp`);
    protocol = p;
    s = s.slice(0, slash);
  }
  let hostIp = '0.0.0.0';
  // IPv6 host addresses come bracketed: [::1]:8080:80
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(s);
  let parts: string[];
  if (v6) {
    hostIp = v6[1] ?? '';
    parts = ['', ...(v6[2] ?? '').split(':')];
  } else {
    parts = s.split(':');
  }
  if (parts.length === 1) {
    return {
      containerPort: portNumber(parts[0] ?? '', field, 'container port'),
      protocol,
      hostIp,
      hostPort: 0,
    };
  }
  if (parts.length === 2) {
    return {
      containerPort: portNumber(parts[1] ?? '', field, 'container port'),
      protocol,
      hostIp,
      hostPort: portNumber(parts[0] ?? '', field, 'host port', true),
    };
  }
  if (parts.length === 3) {
    if (!v6) hostIp = parts[0] ?? '';
    if (isIP(hostIp) === 0) throw bad(field, `host IP ${JSON.stringify(hostIp)} is not an IP address`);
    const hp = parts[1] ?? '';
    return {
      containerPort: portNumber(parts[2] ?? '', field, 'container port'),
      protocol,
      hostIp,
      hostPort: hp === '' ? 0 : portNumber(hp, field, 'host port', true),
    };
  }
  throw bad(field, `must be [ip:]hostPort:containerPort[/tcp|udp], got ${JSON.stringify(v)}`);
}

/** `SIGTERM`, `TERM`, `15` → `SIGTERM`. */
export function parseSignal(v: unknown, field: string): string {
  const signals = constants.signals as Record<string, number>;
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v.trim()))) {
    const n = Number(v);
    const name = Object.keys(signals).find((k) => signals[k] === n);
    if (name) return name;
  } else if (typeof v === 'string') {
    const up = v.trim().toUpperCase();
    const name = up.startsWith('SIG') ? up : `SIG${up}`;
    if (signals[name] !== undefined) return name;
  }
  throw bad(field, `${JSON.stringify(v)} is not a signal name or number (e.g. SIGTERM, 15)`);
}

const RLIMITS = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

/**
 * `nofile=1024:2048` or `nofile=1024` (soft = hard). No -1 (unlimited): the
 * OCI field is a uint64 and RLIM_INFINITY does not survive a JSON number.
 */
export function parseUlimit(v: unknown, field: string): Rlimit {
  const m = typeof v === 'string' ? /^([a-z]+)=(\d+)(?::(\d+))?$/.exec(v.trim()) : null;
  if (!m)
    throw bad(
      field,
      `must be NAME=SOFT[:HARD] with non-negative integers (e.g. nofile=1024:2048), got ${JSON.stringify(v)}`,
    );
  const name = m[1] ?? '';
  if (!RLIMITS.includes(name))
    throw bad(field, `unknown limit ${JSON.stringify(name)} (one of ${RLIMITS.join(', ')})`);
  const soft = Number(m[2]);
  const hard = Number(m[3] ?? m[2]);
  if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard))
    throw bad(field, `limit too large in ${JSON.stringify(v)}`);
  if (soft > hard) throw bad(field, `soft limit ${m[2]} is above hard limit ${m[3]}`);
  return { type: `RLIMIT_${name.toUpperCase()}`, soft, hard };
}

export function isAbsoluteClean(p: string): boolean {
  return p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0');
}
