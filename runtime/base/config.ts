import { parseDuration } from './duration.js';
import { InvalidArgumentError } from './errors.js';
import { parseSize } from './size.js';

/**
 * Config as a table (as Fluent Bit does it): each module declares rows of key,
 * type, default and description; `validateConfig` applies defaults, coerces
 * strings from env and flags, and rejects unknown keys and wrong types with a
 * message naming the key. `describeConfig` writes the same table into docs and
 * `--help`, so the docs cannot drift from the code.
 */
export type ConfigType = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'bytes' | 'string[]' | 'enum';

export interface ConfigRow<K extends string = string> {
  key: K;
  type: ConfigType;
  /** Absent means the key is required. `null` means optional with no value. */
  default?: unknown;
  description: string;
  /** For `enum`: the allowed values. */
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Name of an environment variable that sets this key (lower precedence than flags). */
  env?: string;
}

export type ConfigTable = readonly ConfigRow[];

export type ConfigValues = Record<string, unknown>;

function bad(field: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${reason}`, { field });
}

function coerce(row: ConfigRow, raw: unknown, field: string): unknown {
  switch (row.type) {
    case 'string':
      if (typeof raw !== 'string') throw bad(field, `must be a string, got ${typeof raw}`);
      return raw;
    case 'enum': {
      if (typeof raw !== 'string' || !row.values?.includes(raw)) {
        throw bad(field, `must be one of ${row.values?.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw bad(field, `must be true or false, got ${JSON.stringify(raw)}`);
    }
    case 'int':
    case 'number': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || (row.type === 'int' && !Number.isInteger(n))) {
        throw bad(
          field,
          `must be ${row.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
        );
      }
      return checkRange(row, n, field);
    }
    case 'duration':
      if (typeof raw !== 'string' && typeof raw !== 'number') throw bad(field, 'must be a duration');
      return checkRange(row, parseDuration(raw, field, { unitless: 'ms' }), field);
    case 'bytes':
      if (typeof raw !== 'string' && typeof raw !== 'number') throw bad(field, 'must be a size');
      return checkRange(row, parseSize(raw, field), field);
    case 'string[]': {
      const list =
        typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : raw;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
        throw bad(field, 'must be a list of strings');
      }
      return list;
    }
  }
}

function checkRange(row: ConfigRow, n: number, field: string): number {
  if (row.min !== undefined && n < row.min) throw bad(field, `must be at least ${row.min}, got ${n}`);
  if (row.max !== undefined && n > row.max) throw bad(field, `must be at most ${row.max}, got ${n}`);
  return n;
}

/**
 * Validate `sources` (lowest precedence first: file, env-derived, flags) against
 * `table`. Unknown keys are rejected, naming the key and the nearest known one.
 * `prefix` is prepended to key names in messages (e.g. `logs.`).
 */
export function validateConfig(
  table: ConfigTable,
  sources: readonly ConfigValues[],
  opts: { prefix?: string; env?: NodeJS.ProcessEnv } = {},
): ConfigValues {
  const prefix = opts.prefix ?? '';
  const known = new Map(table.map((r) => [r.key, r]));
  const merged: ConfigValues = {};
  if (opts.env) {
    for (const row of table) {
      const v = row.env ? opts.env[row.env] : undefined;
      if (v !== undefined) merged[row.key] = v;
    }
  }
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      if (!known.has(k)) {
        const hint = nearest(k, [...known.keys()]);
        throw bad(`${prefix}${k}`, `unknown key${hint ? ` (did you mean ${prefix}${hint}?)` : ''}`);
      }
      if (v !== undefined) merged[k] = v;
    }
  }
  const out: ConfigValues = {};
  for (const row of table) {
    const field = `${prefix}${row.key}`;
    const raw = merged[row.key];
    if (raw === undefined || raw === null) {
      if (!('default' in row)) throw bad(field, 'is required');
      // Defaults go through the same coercion, so a table may say '10s'.
      out[row.key] =
        row.default === null || row.default === undefined ? undefined : coerce(row, row.default, field);
      continue;
    }
    out[row.key] = coerce(row, raw, field);
  }
  return out;
}

/** Markdown table of a config table, for READMEs and `--help`. */
export function describeConfig(table: ConfigTable, prefix = ''): string {
  const lines = ['| key | type | default | env | description |', '|---|---|---|---|---|'];
  for (const r of table) {
    const type = r.type === 'enum' ? (r.values ?? []).join(' \\| ') : r.type;
    const def = !('default' in r)
      ? '(required)'
      : r.default === null
        ? ''
        : `\`${JSON.stringify(r.default)}\``;
    lines.push(
      `| \`${prefix}${r.key}\` | ${type} | ${def} | ${r.env ? `\`${r.env}\`` : ''} | ${r.description} |`,
    );
  }
  return lines.join('\n');
}

function nearest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
