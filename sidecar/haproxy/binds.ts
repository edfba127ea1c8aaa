/**
 * What a config text says about listening, and whether this host lets
 * HAProxy listen somewhere: the manager's checks before a plan reaches
 * `haproxy -c` (a bind that cannot work would fail the reload of every
 * service).
 */
import { createServer } from 'node:net';
import type { CatalogView } from '../discovery/types.js';
import type { HaproxyOptions } from './config.js';
import { type DesiredState, desiredFromView } from './model.js';

/**
 * The desired state for a view: labels, catalog entries and the frontend
 * allow-list checked (model.ts), then each frontend HAProxy does not hold
 * yet (not in the `live` config) tried: a port another process holds, or an
 * address this host does not have, would fail the reload for every service.
 */
export async function desiredWithBinds(
  view: CatalogView,
  opts: Pick<HaproxyOptions, 'bindAddress' | 'frontendAllow'>,
  live: string,
): Promise<DesiredState> {
  const desired = desiredFromView(view, opts.bindAddress, opts.frontendAllow);
  const held = liveBinds(live);
  for (const [name, svc] of desired.services) {
    const bind = svc.spec.bind ?? opts.bindAddress;
    if (held.has(bindKey(bind, svc.spec.port))) continue;
    const why = await bindProblem(bind, svc.spec.port);
    if (why === undefined) continue;
    desired.problems.push({ kind: 'service', service: name, message: why });
    desired.services.delete(name);
  }
  return desired;
}

/** True when `a` and `b` differ only in `server s<N> …` lines of the same servers (same line count and order). */
export function serverLinesOnly(a: string, b: string): boolean {
  const la = a.split('\n');
  const lb = b.split('\n');
  if (la.length !== lb.length) return false;
  for (let i = 0; i < la.length; i++) {
    const x = la[i] ?? '';
    const y = lb[i] ?? '';
    if (x === y) continue;
    const mx = /^\s*server\s+(s\d+)\s/.exec(x);
    const my = /^\s*server\s+(s\d+)\s/.exec(y);
    if (mx === null || my === null || mx[1] !== my[1]) return false;
  }
  return true;
}

export const bindKey = (address: string, port: number): string =>
  `${address.includes(':') ? `[${address}]` : address}:${port}`;

/** `addr:port` of every `bind` in a config text (the frontends HAProxy holds now). */
export function liveBinds(config: string): Set<string> {
  const out = new Set<string>();
  for (const m of config.matchAll(/^\s*bind\s+'?([^'\s]*):(\d+)'?/gm)) {
    const addr = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
    out.add(bindKey(addr === '' || addr === '*' ? '0.0.0.0' : addr, Number(m[2])));
  }
  return out;
}

/**
 * Why HAProxy could not listen on `address:port`, found by listening there
 * for a moment: another process holds the port, or the address is not one
 * of this host's. Undefined when it can.
 */
export function bindProblem(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const where = bindKey(address, port);
      if (err.code === 'EADDRINUSE') resolve(`berth.lb.port: ${where} is in use by another process`);
      else if (err.code === 'EADDRNOTAVAIL')
        resolve(`berth.lb.bind: ${address} is not an address of this host`);
      else resolve(`berth.lb.port: cannot listen on ${where}: ${err.code ?? err.message}`);
    });
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** The directory of a path (`/` for a top-level one). */
export function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
