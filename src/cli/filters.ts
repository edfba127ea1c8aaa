import { InvalidArgumentError } from '../../runtime/base/errors.js';
import type { ContainerDescriptor } from '../../runtime/types.js';

const KEYS = ['id', 'name', 'label', 'status', 'health', 'ancestor'] as const;
type Key = (typeof KEYS)[number];
const STATES = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing'];
const HEALTH = ['none', 'starting', 'healthy', 'unhealthy'];

/** `ps --filter` values grouped by key: one key's values are alternatives, keys must all match (Docker's rule). */
export type Filters = Map<Key, string[]>;

/** Parses `--filter key=value` entries; a wrong key or value is an InvalidArgumentError naming --filter. */
export function parseFilters(entries: string[]): Filters {
  const out: Filters = new Map();
  for (const e of entries) {
    const eq = e.indexOf('=');
    const key = (eq < 0 ? e : e.slice(0, eq)) as Key;
    const value = eq < 0 ? '' : e.slice(eq + 1);
    if (!KEYS.includes(key)) {
      throw new InvalidArgumentError(
        `--filter: unknown key ${JSON.stringify(key)} in ${JSON.stringify(e)} (one of ${KEYS.join(', ')})`,
      );
    }
    if (value === '')
      throw new InvalidArgumentError(`--filter: ${JSON.stringify(e)} needs a value (${key}=…)`);
    if (key === 'status' && !STATES.includes(value)) {
      throw new InvalidArgumentError(
        `--filter: status must be one of ${STATES.join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    if (key === 'health' && !HEALTH.includes(value)) {
      throw new InvalidArgumentError(
        `--filter: health must be one of ${HEALTH.join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/**
 * Docker's `ps --filter` semantics: `id` a prefix, `name` a substring,
 * `label=k` the label is set, `label=k=v` it has that value, `status` and
 * `health` exact, `ancestor` the image reference (with or without its tag).
 */
export function matchesFilters(c: ContainerDescriptor, filters: Filters): boolean {
  for (const [key, values] of filters) {
    const ok = values.some((v) => {
      switch (key) {
        case 'id':
          return c.id.startsWith(v);
        case 'name':
          return c.name.includes(v);
        case 'label': {
          const eq = v.indexOf('=');
          return eq < 0 ? v in c.labels : c.labels[v.slice(0, eq)] === v.slice(eq + 1);
        }
        case 'status':
          return c.state === v;
        case 'health':
          return c.health === v;
        case 'ancestor':
          return c.image === v || c.imageName === v || `${c.imageName}:${c.imageTag}` === v;
      }
      return false;
    });
    if (!ok) return false;
  }
  return true;
}
