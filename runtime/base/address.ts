import { BlockList, isIP, isIPv6 } from 'node:net';
import { InvalidArgumentError } from './errors.js';

export interface HostPort {
  /** An IPv4 address, a host name, or an IPv6 address without its brackets. */
  host: string;
  port: number;
}

export interface ParseHostPortOptions {
  /** The config key named in errors (`metrics.listen`, `dnsListen[0]`). */
  field: string;
  /** Port used when the value has none (`fluentd` → 24224); without it the port is required. */
  defaultPort?: number;
  /** Host used when the value has none (`:9338` → 0.0.0.0); without it the host is required. */
  defaultHost?: string;
  /** Lowest port accepted: 0 for listeners (the kernel picks one), 1 (default) for peers. */
  minPort?: 0 | 1;
  /** The form named in errors; default `host:port`. */
  form?: string;
  /** A valid value shown in errors. */
  example?: string;
}

/**
 * Parses `host:port`, `[ipv6]:port`, and (with `defaultPort`) a bare `host` or
 * `[ipv6]`. The host is checked for shape only: names are resolved, and
 * addresses bound, by whoever uses them. Throws InvalidArgumentError naming
 * `field` and what is wrong.
 */
export function parseHostPort(value: string, opts: ParseHostPortOptions): HostPort {
  const fail = (reason: string): never => {
    const eg = opts.example === undefined ? '' : `; e.g. ${opts.example}`;
    throw new InvalidArgumentError(
      `${opts.field}: ${JSON.stringify(value)} is not ${opts.form ?? 'host:port'} (${reason}${eg})`,
      { field: opts.field },
    );
  };
  const v = value.trim();
  if (v === '') return fail('it is empty');

  let host: string;
  let portText: string | undefined;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0) return fail("'[' without ']'");
    host = v.slice(1, close);
    if (host === '') return fail('nothing between [ and ]');
    const rest = v.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return fail(`unexpected ${JSON.stringify(rest)} after ']'`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const parts = v.split(':');
    if (parts.length > 2) {
      return fail(isIPv6(v) ? 'an IPv6 address needs brackets, as in [::1]:80' : "more than one ':'");
    }
    host = parts[0] ?? '';
    portText = parts[1];
    if (host === '') {
      if (opts.defaultHost === undefined) return fail('the host is missing');
      host = opts.defaultHost;
    }
  }

  if (portText === undefined) {
    if (opts.defaultPort === undefined) return fail('the port is missing');
    return { host, port: opts.defaultPort };
  }
  if (portText === '') return fail('the port is empty');
  if (!/^\d+$/.test(portText)) return fail(`port ${JSON.stringify(portText)} is not a number`);
  const port = Number(portText);
  const min = opts.minPort ?? 1;
  if (port < min || port > 65535) return fail(`port ${portText} is out of range (${min}-65535)`);
  return { host, port };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a host (`localhost`, an IPv4 or IPv6 address in any spelling, with
 * or without a `:port` or brackets) is a loopback one: 127.0.0.0/8, ::1 (also
 * IPv4-mapped) or localhost.
 */
export function isLoopbackHost(host: string): boolean {
  // A bare IPv6 address ends in digits after a colon too: strip a port only from `[v6]:p` or `name:p`.
  const h =
    isIP(host) !== 0 ? host : host.replace(/^\[([^\]]*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1');
  if (h === 'localhost') return true;
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}
