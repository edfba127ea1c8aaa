import { InvalidArgumentError } from '../base/errors.js';
import { NETWORK_MODES, type NetworkMode } from './types.js';

/** Named network namespaces live here (`ip netns add` creates them). */
export const NETNS_DIR = '/run/netns';
export const NETNS_PREFIX = 'berth-';
export const VETH_PREFIX = 'vb';

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new InvalidArgumentError(`id: "${id}" is not a container id`, { field: 'id' });
}

/** The 12-character prefix that names a container's netns, veth and rules (interface names are ≤15). */
export function short(id: string): string {
  return id.slice(0, 12);
}

export function netnsName(id: string): string {
  return `${NETNS_PREFIX}${short(id)}`;
}

export function vethName(id: string): string {
  return `${VETH_PREFIX}${short(id)}`;
}

/** `''` and `default` are bridge, as in Docker. */
export function parseMode(mode: string): NetworkMode {
  const m = mode === '' || mode === 'default' ? 'bridge' : mode;
  if ((NETWORK_MODES as readonly string[]).includes(m)) return m as NetworkMode;
  throw new InvalidArgumentError(`network: "${mode}" is not a network mode (${NETWORK_MODES.join(', ')})`, {
    field: 'network',
  });
}

/** `02:42:<ip octets>`, as Docker derives a container's MAC from its address. */
export function macFor(ip: string): string {
  const hex = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '42', ...hex].join(':');
}
