import { bad } from './fields.js';
import type { CreateRequest } from './request.js';
import type { NetworkJoin, NetworkMode } from './types.js';

/** What `--network` names as a mode, never as a user-defined network (Docker reserves the same names). */
export const RESERVED_NETWORK_NAMES = ['bridge', 'host', 'none', 'default'] as const;

/**
 * The request's `networks` checked across fields: only with network mode
 * bridge, each network once, `host`/`none`/`default` refused (they are modes,
 * not networks to join). Absent or empty: undefined (the default network).
 * Whether a named network exists is checked at start by the network manager.
 */
export function networksOf(req: CreateRequest, mode: NetworkMode): NetworkJoin[] | undefined {
  const list = req.networks ?? [];
  if (list.length === 0) return undefined;
  if (mode !== 'bridge') throw bad('networks', `joining networks needs network bridge (network is ${mode})`);
  const seen = new Set<string>();
  return list.map((n, i) => {
    if (n.name === 'host' || n.name === 'none' || n.name === 'default')
      throw bad(
        `networks[${i}].name`,
        `"${n.name}" is a network mode, not a network to join (use network: ${n.name === 'default' ? 'bridge' : n.name})`,
      );
    if (seen.has(n.name)) throw bad(`networks[${i}].name`, `network "${n.name}" is named twice`);
    seen.add(n.name);
    return { name: n.name, aliases: [...new Set(n.aliases ?? [])] };
  });
}
