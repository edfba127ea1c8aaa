import { InvalidArgumentError } from '../../runtime/base/errors.js';
import type { ServiceInstance } from './types.js';

export const HEALTH_STATES: readonly ServiceInstance['health'][] = [
  'passing',
  'warning',
  'critical',
  'maintenance',
];

/** Meta keys Consul accepts (and that survive a round trip through any catalog). */
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Rejects an instance either catalog would store wrongly, with the same
 * messages from both so callers see one behaviour.
 */
export function validateInstance(inst: ServiceInstance): void {
  if (typeof inst.id !== 'string' || inst.id.trim() === '') {
    throw new InvalidArgumentError('id: must be a non-empty string', { field: 'id' });
  }
  if (inst.id.includes('/')) {
    throw new InvalidArgumentError(`id: "${inst.id}" must not contain "/" (Consul uses it in URLs)`, {
      field: 'id',
    });
  }
  if (typeof inst.service !== 'string' || inst.service.trim() === '') {
    throw new InvalidArgumentError(`service: instance "${inst.id}" needs a service name`, {
      field: 'service',
    });
  }
  if (!Number.isInteger(inst.port) || inst.port < 0 || inst.port > 65535) {
    throw new InvalidArgumentError(`port: ${String(inst.port)} is not a port (0-65535)`, { field: 'port' });
  }
  if (typeof inst.address !== 'string' || inst.address === '') {
    throw new InvalidArgumentError(`address: instance "${inst.id}" needs an address`, { field: 'address' });
  }
  if (!HEALTH_STATES.includes(inst.health)) {
    throw new InvalidArgumentError(
      `health: "${String(inst.health)}" is not one of ${HEALTH_STATES.join(', ')}`,
      {
        field: 'health',
      },
    );
  }
  if (!Array.isArray(inst.tags) || inst.tags.some((t) => typeof t !== 'string')) {
    throw new InvalidArgumentError(`tags: instance "${inst.id}" tags must be strings`, { field: 'tags' });
  }
  for (const [k, v] of Object.entries(inst.meta ?? {})) {
    if (!META_KEY.test(k)) {
      throw new InvalidArgumentError(`meta: key "${k}" must match [A-Za-z0-9_-]{1,128}`, { field: 'meta' });
    }
    if (typeof v !== 'string' || v.length > 512) {
      throw new InvalidArgumentError(`meta: value of "${k}" must be a string of at most 512 characters`, {
        field: 'meta',
      });
    }
  }
}

/** Health a check can report; maintenance is set with `setMaintenance`, not as a check status. */
export function validateCheckHealth(
  health: ServiceInstance['health'],
): asserts health is 'passing' | 'warning' | 'critical' {
  if (health !== 'passing' && health !== 'warning' && health !== 'critical') {
    throw new InvalidArgumentError(
      `health: "${String(health)}" cannot be set as a check status; use passing, warning or critical (maintenance has setMaintenance)`,
      { field: 'health' },
    );
  }
}

/** A deep copy, so callers mutating what they passed or got back cannot change the catalog. */
export function copyInstance(inst: ServiceInstance): ServiceInstance {
  const out: ServiceInstance = {
    id: inst.id,
    service: inst.service,
    tags: [...inst.tags],
    meta: { ...inst.meta },
    address: inst.address,
    port: inst.port,
    node: inst.node,
    health: inst.health,
  };
  if (inst.nodeAddress !== undefined) out.nodeAddress = inst.nodeAddress;
  if (inst.datacenter !== undefined) out.datacenter = inst.datacenter;
  if (inst.containerId !== undefined) out.containerId = inst.containerId;
  return out;
}
