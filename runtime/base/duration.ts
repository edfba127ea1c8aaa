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
