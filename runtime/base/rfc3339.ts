/**
 * RFC 3339 times with nanoseconds, as container logs carry them (conmon's
 * k8s-file lines, Docker's json-file `time`) and as berth ships them: one
 * implementation for the runtime's log reader (runtime/exec/k8s-format.ts)
 * and the log shipper (sidecar/logs). Date keeps only milliseconds, so these
 * work on the text: seconds since the epoch plus nanoseconds.
 *
 * The canonical form is UTC with nine fractional digits and `Z`
 * (`2026-11-27T18:50:13.183691507Z`); conmon writes it but for the zone.
 * Every shipped line passes through here, so the common cases are checked
 * character by character rather than with a regex.
 */

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Parses RFC 3339 with any offset and up to nine fractional digits into unix
 * seconds + nanoseconds (Date keeps only milliseconds, conmon writes nanos).
 */
export function parseTime(t: string): { sec: number; nsec: number } | undefined {
  if (isCanonical(t)) return parseCanonical(t);
  const m = TIME_RE.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  let offset = 0;
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offset = sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
  }
  return { sec: ms / 1000 - offset, nsec: Number(frac.padEnd(9, '0')) };
}

/**
 * berth's own form (and conmon's, but for the zone): UTC, nine fractional
 * digits, `Z`, i.e. /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/ tested
 * character by character: this runs for every line shipped, and a regex test
 * cost more than the rest of the time handling.
 */
export function isCanonical(t: string): boolean {
  if (t.length !== 30 || t.charCodeAt(29) !== 0x5a /* Z */) return false;
  for (let i = 0; i < 29; i++) {
    const c = t.charCodeAt(i);
    const sep = CANONICAL_SHAPE[i];
    if (sep !== 0 ? c !== sep : c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Per position of the canonical form before its `Z`: the separator byte
 * expected there, or 0 for a digit (the k8s-file parser checks conmon's bytes with it too).
 */
export const CANONICAL_SHAPE = Uint8Array.from(Buffer.from('0000-00-00T00:00:00.000000000'), (c) =>
  c === 0x30 ? 0 : c,
);

/** Seconds and nanoseconds of a time that passed isCanonical. */
export function parseCanonical(t: string): { sec: number; nsec: number } {
  return { sec: secondsOf(t.slice(0, 19)), nsec: Number(t.slice(20, 29)) };
}

// Lines come in runs within the same second: remember the last second parsed.
// A one-entry memo of a pure function, not shared state.
let memoPrefix = '';
let memoSec = 0;
function secondsOf(prefix: string): number {
  if (prefix !== memoPrefix) {
    memoSec =
      Date.UTC(
        Number(prefix.slice(0, 4)),
        Number(prefix.slice(5, 7)) - 1,
        Number(prefix.slice(8, 10)),
        Number(prefix.slice(11, 13)),
        Number(prefix.slice(14, 16)),
        Number(prefix.slice(17, 19)),
      ) / 1000;
    memoPrefix = prefix;
  }
  return memoSec;
}

/** Unix seconds + nanoseconds → `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. */
export function formatTime(sec: number, nsec: number): string {
  return `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}

/** Any RFC 3339 time → UTC with nanoseconds; undefined when it is not one. */
export function normalizeTime(t: string): string | undefined {
  // The hot path (every line conmon writes): already canonical but for the zone.
  // conmon 2.1.6 writes `+00:00` when the host runs in UTC.
  if (t.length === 35 && t.endsWith('+00:00')) {
    const z = `${t.slice(0, 29)}Z`;
    if (isCanonical(z)) return z;
  }
  if (isCanonical(t)) return t;
  const p = parseTime(t);
  return p ? formatTime(p.sec, p.nsec) : undefined;
}
