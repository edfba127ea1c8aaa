/**
 * Variable interpolation as compose-go's template package does it (the
 * behaviour `docker compose` users know): `$$` is a literal `$`; `$VAR` and
 * `${VAR}` substitute (unset: empty); `${VAR:-d}`/`${VAR-d}` default when
 * unset-or-empty/unset; `${VAR:+r}`/`${VAR+r}` replace when set-and-non-empty/
 * set; `${VAR:?msg}`/`${VAR?msg}` refuse when unset-or-empty/unset. Defaults,
 * replacements and messages are themselves interpolated (nesting); a
 * variable's value never is. A `$` followed by anything else stays as is.
 */

/** What went wrong inside one string; the caller adds file:line and key path. */
export class InterpolationError extends Error {}

export type Lookup = (name: string) => string | undefined;

const NAME_START = /[_a-zA-Z]/;
const NAME_REST = /^[_a-zA-Z][_a-zA-Z0-9]*/;
const BRACED = /^([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-+?])([^\n]*))?$/;

export function interpolate(text: string, lookup: Lookup): string {
  if (!text.includes('$')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next !== undefined && NAME_START.test(next)) {
      const name = NAME_REST.exec(text.slice(i + 1))?.[0] ?? '';
      out += lookup(name) ?? '';
      i += 1 + name.length;
    } else if (next === '{') {
      const close = closingBrace(text, i);
      if (close < 0) throw new InterpolationError(`invalid interpolation format in "${text}"`);
      out += substitute(text.slice(i + 2, close), lookup, text);
      i = close + 1;
    } else {
      out += '$';
      i++;
    }
  }
  return out;
}

/** The `}` closing the `${` at `start`, counting nested `${...}` as compose-go does; -1 when none. */
function closingBrace(s: string, start: number): number {
  let open = 0;
  for (let i = start; i < s.length; i++) {
    if (s[i] === '}') {
      open--;
      if (open === 0) return i;
    }
    if (s[i] === '{') {
      open++;
      i++;
    }
  }
  return -1;
}

function substitute(inner: string, lookup: Lookup, whole: string): string {
  const m = BRACED.exec(inner);
  if (m === null) throw new InterpolationError(`invalid interpolation format in "${whole}"`);
  const name = m[1] ?? '';
  const op = m[2];
  const arg = m[3] ?? '';
  const value = lookup(name);
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return value === undefined || value === '' ? interpolate(arg, lookup) : value;
    case '-':
      return value === undefined ? interpolate(arg, lookup) : value;
    case ':+':
      return value !== undefined && value !== '' ? interpolate(arg, lookup) : (value ?? '');
    case '+':
      return value !== undefined ? interpolate(arg, lookup) : '';
    case ':?':
    case '?':
      if (value === undefined || (op === ':?' && value === '')) {
        const reason = interpolate(arg, lookup);
        throw new InterpolationError(
          `required variable ${name} is missing a value${reason === '' ? '' : `: ${reason}`}`,
        );
      }
      return value;
    default:
      throw new InterpolationError(`invalid interpolation format in "${whole}"`);
  }
}
