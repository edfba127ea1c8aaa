import { interpolate, type Lookup } from './interpolate.js';

/**
 * A `.env` / env_file parser following compose-go's dotenv (the format
 * `docker compose` reads): `KEY=value`, `export KEY=value`, `KEY: value`,
 * `#` comments (inline after ` #` on unquoted values), single quotes literal,
 * double quotes with backslash escapes, unquoted and double-quoted values
 * interpolated (the caller's lookup first, then keys set earlier in the file),
 * a bare `KEY` taken from the lookup when set.
 * Throws a plain Error naming the line; the caller adds the file.
 */
export function parseDotenv(text: string, lookup: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  const expand = (v: string): string => interpolate(v, (k) => lookup(k) ?? out[k]);
  const src = text.replace(/\r\n/g, '\n');
  let i = 0;
  let line = 1;
  const skipBlank = (): void => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i] ?? '')) {
        if (src[i] === '\n') line++;
        i++;
      }
      if (src[i] !== '#') return;
      while (i < src.length && src[i] !== '\n') i++;
    }
  };
  for (;;) {
    skipBlank();
    if (i >= src.length) return out;
    if (/^export\s/.test(src.slice(i, i + 7))) i += 7;
    while (src[i] === ' ' || src[i] === '\t') i++;
    const keyStart = i;
    while (i < src.length && !'=:\n'.includes(src[i] ?? '')) i++;
    const key = src.slice(keyStart, i).trim();
    if (!/^[\p{L}\p{N}_.\-[\]]+$/u.test(key)) throw new Error(`line ${line}: invalid variable name "${key}"`);
    if (i >= src.length || src[i] === '\n') {
      const v = lookup(key);
      if (v !== undefined) out[key] = v;
      continue;
    }
    i++;
    while (src[i] === ' ' || src[i] === '\t') i++;
    const quote = src[i];
    if (quote === '"' || quote === "'") {
      let j = i + 1;
      let raw = '';
      let escaped = false;
      for (; j < src.length; j++) {
        const c = src[j] ?? '';
        if (c === '\n') line++;
        if (c === quote && !escaped) break;
        if (c === '\\' && !escaped) {
          escaped = true;
          continue;
        }
        if (escaped && c !== quote) raw += '\\';
        escaped = false;
        raw += c;
      }
      if (j >= src.length) throw new Error(`line ${line}: unterminated quoted value`);
      out[key] = quote === '"' ? expand(unescapeQuoted(raw)) : raw;
      i = j + 1;
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const end = src.indexOf('\n', i);
    let value = src.slice(i, end < 0 ? src.length : end);
    const hash = value.indexOf(' #');
    if (hash >= 0) value = value.slice(0, hash);
    out[key] = expand(value.trimEnd());
    i = end < 0 ? src.length : end;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Backslash escapes inside double quotes; `\$` stays a literal `$` through interpolation (as `$$`). */
function unescapeQuoted(s: string): string {
  return s.replace(/\\([abfnrtv$"\\])/g, (_m, c: string) => (c === '$' ? '$$' : (ESCAPES[c] ?? c)));
}
