/**
 * Durations and sizes the way compose-go reads them, so a file means the
 * same to berth as to `docker compose`.
 */

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A Go duration with compose-go's extra `d` and `w` units (`1m30s`, `1.5h`,
 * `2d`), in milliseconds; undefined when it is not one. A bare number is
 * refused as compose-go refuses it (no unit), except 0.
 */
export function parseComposeDuration(input: string | number): number | undefined {
  const s = String(input).trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d|w))+$/.exec(s);
  if (m === null) return undefined;
  let total = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] ?? ''] ?? Number.NaN);
  }
  if (!Number.isFinite(total)) return undefined;
  return m[1] === '-' ? -total : total;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * A size in bytes as docker's go-units RAMInBytes reads it (binary units
 * whatever the suffix: `512m`, `1g`, `1.5GiB`, `100kb`); a YAML number is
 * bytes. Undefined when it is not one.
 */
export function parseComposeBytes(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) ? input : undefined;
  const s = input.trim();
  if (/^-?\d+$/.test(s)) return Number(s);
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (m === null) return undefined;
  const n = Number.parseFloat(m[1] ?? '');
  const mult = SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.trunc(n * mult);
}
