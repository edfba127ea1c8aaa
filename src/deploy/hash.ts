import { createHash } from 'node:crypto';
import type { ComposeService } from '../compose/types.js';

/**
 * `com.docker.compose.config-hash`: sha256 over the service's effective
 * config as stable JSON (keys sorted), without what does not change a
 * container: the replica count, depends_on and profiles (as Compose's
 * ServiceHash leaves out), and update_config/rollback_config (they say how
 * to roll, not what runs). A changed hash is what makes a service roll.
 */
export function configHash(service: ComposeService): string {
  const { dependsOn: _d, profiles: _p, deploy, ...rest } = service;
  const { replicas: _r, updateConfig: _u, rollbackConfig: _rb, ...deployRest } = deploy;
  return createHash('sha256')
    .update(stableJson({ ...rest, deploy: deployRest }))
    .digest('hex');
}

/** JSON with object keys sorted at every level, undefined members left out. */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
}
