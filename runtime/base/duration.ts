import { InvalidArgumentError } from './errors.js';

/** Milliseconds per Go duration unit (time.ParseDuration). */
const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go duration (`10s`, `1m30s`, `500ms`, `1.5s`, `0`) in milliseconds, as
 * Docker, Registrator and Consul write them; undefined when the text is not
 * one (a bare number other than 0, a negative, an unknown unit, anything
 * after the last unit). Callers decide what a bare number means and how to
 * report a bad value.
 */
export function goDurationMs(s: string): number | undefined {
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '') return undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] ?? ''] ?? Number.NaN);
    at = re.lastIndex;
  }
  return at === text.length && Number.isFinite(total) ? total : undefined;
}

export interface ParseDurationOptions {
  /**
   * What a bare number in a string means. Docker and Go want a unit
   * (`--health-interval 30` is an error), so by default it is rejected;
   * berth's config tables take it as milliseconds (`"1500"`).
   */
  unitless?: 'reject' | 'ms';
}

/**
 * A duration given by a user, in milliseconds: a Go duration (`goDurationMs`)
 * or a non-negative number of milliseconds. Not rounded (`250us` is 0.25).
 * Anything else is an InvalidArgumentError naming `field` and the value.
 */
export function parseDuration(v: unknown, field: string, opts: ParseDurationOptions = {}): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  let hint = '';
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+(\.\d+)?$/.test(s)) {
      if (opts.unitless === 'ms') return Number(s);
      if (s !== '0') hint = ': a unit is required';
    }
    const ms = goDurationMs(s);
    if (ms !== undefined) return ms;
  }
  throw new InvalidArgumentError(
    `${field}: ${JSON.stringify(v)} is not a duration (e.g. 30s, 1m30s, 500ms)${hint}`,
    { field },
  );
}
