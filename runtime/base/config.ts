import { parseDuration } from './duration.js';
import { InvalidArgumentError } from './errors.js';
import { parseSize } from './size.js';

/**
 * Config as a table (as Fluent Bit does it): each module declares rows of key,
 * type, default and description with `defineConfig`; `validateConfig` applies
 * the defaults, coerces strings from env and flags, and rejects unknown keys
 * and wrong types with a message naming the key. Its result is typed from the
 * rows (`ConfigOf`), so a default lives in the table and nowhere else.
 * `describeConfig` writes the same table into docs and `--help`, so the docs
 * cannot drift from the code. Keys are camelCase in every table (README.md).
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
  /**
   * Former spellings of the key, still accepted: each use is reported through
   * `onDeprecated` (the agent logs it once) and the docs name them.
   */
  aliases?: readonly string[];
}

export type ConfigTable = readonly ConfigRow[];

export type ConfigValues = Record<string, unknown>;

/** The value type of one row: durations in ms and sizes in bytes are numbers. */
type RowValue<R> = R extends { type: 'enum'; values: readonly (infer V extends string)[] }
  ? V
  : R extends { type: 'string' | 'enum' }
    ? string
    : R extends { type: 'int' | 'number' | 'duration' | 'bytes' }
      ? number
      : R extends { type: 'bool' }
        ? boolean
        : R extends { type: 'string[]' }
          ? string[]
          : unknown;

/** A row whose default is `null`: optional, absent when not given. */
type OptionalRow = { default: null };

/**
 * The typed result of `validateConfig` over `T`: one property per row, optional
 * where the default is `null`. Over a plain `ConfigTable` it is a string map.
 */
export type ConfigOf<T extends ConfigTable> = {
  [R in T[number] as R extends OptionalRow ? never : R['key']]: RowValue<R>;
} & {
  [R in T[number] as R extends OptionalRow ? R['key'] : never]?: RowValue<R>;
};

/**
 * Declares a table so that its keys, types and enum values stay literal and
 * `ConfigOf<typeof TABLE>` (and `validateConfig`'s result) is typed from it.
 */
export function defineConfig<const T extends readonly ConfigRow[]>(rows: T): T {
  return rows;
}

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

export interface ValidateOptions {
  /** Prepended to key names in messages (e.g. `logs.`). */
  prefix?: string;
  /** Where the rows' `env` variables are read (lowest precedence). */
  env?: NodeJS.ProcessEnv;
  /** Called for each deprecated alias used, with both names prefixed. */
  onDeprecated?: (alias: string, key: string) => void;
}

/**
 * Validate `sources` (lowest precedence first: file, env-derived, flags) against
 * `table`. Unknown keys are rejected, naming the key and the nearest known one;
 * a deprecated alias counts as its key.
 */
export function validateConfig<const T extends ConfigTable>(
  table: T,
  sources: readonly ConfigValues[],
  opts: ValidateOptions = {},
): ConfigOf<T> {
  const prefix = opts.prefix ?? '';
  const known = new Map<string, ConfigRow>(table.map((r) => [r.key, r]));
  const aliases = new Map<string, string>();
  for (const r of table) for (const a of r.aliases ?? []) aliases.set(a, r.key);
  const merged: ConfigValues = {};
  if (opts.env) {
    for (const row of table) {
      const v = row.env ? opts.env[row.env] : undefined;
      if (v !== undefined) merged[row.key] = v;
    }
  }
  for (const src of sources) {
    for (const [given, v] of Object.entries(src)) {
      let k = given;
      const canonical = aliases.get(given);
      if (canonical !== undefined) {
        if (src[canonical] !== undefined && v !== undefined) {
          throw bad(
            `${prefix}${given}`,
            `is the old name of ${prefix}${canonical}: give only ${prefix}${canonical}`,
          );
        }
        opts.onDeprecated?.(`${prefix}${given}`, `${prefix}${canonical}`);
        k = canonical;
      } else if (!known.has(given)) {
        const hint = nearest(given, [...known.keys(), ...aliases.keys()]);
        const named = hint === undefined ? undefined : (aliases.get(hint) ?? hint);
        throw bad(`${prefix}${given}`, `unknown key${named ? ` (did you mean ${prefix}${named}?)` : ''}`);
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
  return out as ConfigOf<T>;
}

/** The table's defaults, coerced (durations in ms, sizes in bytes); required rows are left out. */
export function configDefaults<const T extends ConfigTable>(table: T): Partial<ConfigOf<T>> {
  const out: ConfigValues = {};
  for (const row of table) {
    if ('default' in row && row.default !== null && row.default !== undefined) {
      out[row.key] = coerce(row, row.default, row.key);
    }
  }
  return out as Partial<ConfigOf<T>>;
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
    const formerly = r.aliases?.length
      ? ` Deprecated old name: ${r.aliases.map((a) => `\`${prefix}${a}\``).join(', ')}.`
      : '';
    lines.push(
      `| \`${prefix}${r.key}\` | ${type} | ${def} | ${r.env ? `\`${r.env}\`` : ''} | ${r.description}${formerly} |`,
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
