import { InvalidArgumentError } from './errors.js';

/** Bytes per unit letter, binary as Docker reads them (`k` = KiB). */
const UNITS: Record<string, number> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * Docker's size notation (`--memory 512m`, `--tmpfs size=64k`, config sizes)
 * in bytes: a number, optionally fractional, then an optional unit letter
 * b, k, m, g, t or p with an optional `i` and `b` after it (`64k`, `64kb`,
 * `64KiB`, `1.5g`, `100b`, `1048576`), case-insensitive, binary units as
 * Docker's RAMInBytes has them; a fraction of a byte is dropped. A number
 * passes when it is a whole, non-negative byte count. Anything else is an
 * InvalidArgumentError naming `field` and the value.
 */
export function parseSize(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])i?)?b?$/i.exec(v.trim()) : null;
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) {
    throw new InvalidArgumentError(`${field}: ${JSON.stringify(v)} is not a size (e.g. 512m, 1g)`, { field });
  }
  return Math.floor(Number(m[1]) * unit);
}
