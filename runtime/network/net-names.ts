import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../base/errors.js';

/** The default network's name for users (`--network bridge`), as in Docker. */
export const DEFAULT_NETWORK = 'bridge';
/** Names that are modes or the default network, never user-defined networks. */
export const RESERVED = new Set(['bridge', 'host', 'none', 'default']);
/** Same as the create request's NETWORK_NAME_PATTERN (runtime/oci/request.ts). */
export const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** User networks' bridges: `bn-` and 12 hex characters (15, the kernel's limit for interface names). */
export const USER_BRIDGE_PREFIX = 'bn-';
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,254}$/;

/** Refuses what cannot be a user-defined network's name, saying why. */
export function checkNetworkName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name === '')
    throw new InvalidArgumentError(`${field}: a network name is required`, { field });
  if (RESERVED.has(name))
    throw new InvalidArgumentError(`${field}: "${name}" is reserved (bridge, host, none, default)`, {
      field,
    });
  if (!NETWORK_NAME_RE.test(name))
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(name)} is not a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters)`,
      { field },
    );
  return name;
}

/** Label keys as Docker's (`com.docker.compose.network`), values of at most 4096 characters without NUL. */
export function checkLabels(labels: unknown, field = 'labels'): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw new InvalidArgumentError(`${field}: must be an object of strings`, { field });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY_RE.test(k))
      throw new InvalidArgumentError(`${field}: key ${JSON.stringify(k)} is not a label key`, { field });
    if (typeof v !== 'string' || v.length > 4096 || v.includes('\0'))
      throw new InvalidArgumentError(`${field}.${k}: must be a string of at most 4096 characters`, {
        field: `${field}.${k}`,
      });
    out[k] = v;
  }
  return out;
}

/** The bridge of a network id: `bn-<12 hex of sha256(id)>`; `attempt` > 0 after a clash with an existing link. */
export function bridgeNameFor(id: string, attempt = 0): string {
  const h = createHash('sha256')
    .update(attempt === 0 ? id : `${id}/${attempt}`)
    .digest('hex');
  return `${USER_BRIDGE_PREFIX}${h.slice(0, 12)}`;
}
