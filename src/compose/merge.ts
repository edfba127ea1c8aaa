import type { ServiceDraft } from './draft.js';
import type { FileDraft, ResourceDraft } from './read-file.js';
import { type MergeRule, SERVICE_KEYS } from './schema.js';
import type { ComposeMount, ComposePort } from './types.js';

/**
 * Merges the files in order, later over earlier, with each key's rule from
 * schema.ts (compose-go's override rules for the keys berth supports).
 */
export function mergeFiles(files: FileDraft[]): FileDraft {
  const out: FileDraft = { services: new Map(), networks: new Map(), volumes: new Map() };
  for (const f of files) {
    if (f.name !== undefined) out.name = f.name;
    for (const [name, svc] of f.services) {
      const base = out.services.get(name);
      out.services.set(name, base === undefined ? svc : mergeService(base, svc));
    }
    for (const kind of ['networks', 'volumes'] as const) {
      for (const [name, res] of f[kind]) {
        const base = out[kind].get(name);
        out[kind].set(name, base === undefined ? res : mergeResource(base, res));
      }
    }
  }
  return out;
}

const RULES = new Map<string, MergeRule>(Object.values(SERVICE_KEYS).map((k) => [k.field, k.merge]));

function mergeService(base: ServiceDraft, over: ServiceDraft): ServiceDraft {
  const fields: Record<string, unknown> = { ...base.fields };
  for (const [field, value] of Object.entries(over.fields)) {
    fields[field] =
      field in fields ? mergeValue(RULES.get(field) ?? 'override', fields[field], value) : value;
  }
  return { fields, pos: new Map([...base.pos, ...over.pos]) };
}

function mergeResource(base: ResourceDraft, over: ResourceDraft): ResourceDraft {
  return { ...base, ...over, labels: { ...base.labels, ...over.labels } };
}

function mergeValue(rule: MergeRule, a: unknown, b: unknown): unknown {
  switch (rule) {
    case 'override':
      return b;
    case 'map':
      return { ...(a as object), ...(b as object) };
    case 'append':
      return appendUnique(a as unknown[], b as unknown[]);
    case 'ports':
      return appendUnique(a as ComposePort[], b as ComposePort[]);
    case 'mounts': {
      // One mount per container path: a later file's mount at the same target replaces the earlier one.
      const byTarget = new Map((a as ComposeMount[]).map((m) => [m.target, m]));
      for (const m of b as ComposeMount[]) byTarget.set(m.target, m);
      return [...byTarget.values()];
    }
    case 'shallow':
      return { ...(a as object), ...(b as object) };
    case 'deep':
      return deepMerge(a, b);
    case 'logging': {
      const x = a as { driver?: string; options: Record<string, string> };
      const y = b as { driver?: string; options: Record<string, string> };
      // A different driver replaces the block; the same (or an unnamed) one merges options.
      if (x.driver !== undefined && y.driver !== undefined && x.driver !== y.driver) return y;
      return { driver: y.driver ?? x.driver, options: { ...x.options, ...y.options } };
    }
    case 'byName': {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(b as Record<string, unknown>))
        out[k] = k in out ? deepMerge(out[k], v) : v;
      return out;
    }
  }
}

function appendUnique<T>(a: T[], b: T[]): T[] {
  const out = [...a];
  for (const x of b) if (!out.some((y) => sameValue(x, y))) out.push(x);
  return out;
}

/** Deep equality whatever the key order (a long-syntax port and the same port in short syntax are one entry). */
function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlain(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** Objects merge key by key; lists append without duplicates (aliases); anything else is replaced. */
function deepMerge(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return appendUnique(a, b);
  if (isPlain(a) && isPlain(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? deepMerge(out[k], v) : v;
    return out;
  }
  return b;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
