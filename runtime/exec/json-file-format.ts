import { normalizeTime } from '../base/rfc3339.js';
import type { K8sEntry } from './k8s-format.js';

/**
 * Docker's json-file log format (moby daemon/logger/jsonfilelog), one JSON
 * object a line:
 *
 *   {"log":"hello\n","stream":"stdout","time":"2026-12-01T10:00:01.2Z"}
 *
 * `log` keeps the newline the container printed; Docker splits a line longer
 * than 16 KiB into entries whose `log` has no trailing newline, the last piece
 * with it, so "no trailing newline" is exactly the CRI format's `P` (partial)
 * flag and the same joining applies. `time` is Go's RFC3339Nano, whose
 * fraction drops trailing zeros. Other keys (`attrs`) are ignored.
 */
export function parseJsonFileEntry(buf: Buffer, from = 0, to = buf.length): K8sEntry | undefined {
  if (buf[from] !== 0x7b /* { */) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8', from, to));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const { log, stream, time } = v as Record<string, unknown>;
  if (typeof log !== 'string' || typeof time !== 'string') return undefined;
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const t = normalizeTime(time);
  if (t === undefined) return undefined;
  const partial = !log.endsWith('\n');
  const text = partial ? log : log.slice(0, -1);
  return { time: t, sec: undefined, nsec: undefined, stream, partial, text, bytes: Buffer.byteLength(text) };
}
