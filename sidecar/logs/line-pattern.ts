import { createRequire } from 'node:module';
import type RE2Type from 're2';
import { InvalidArgumentError } from '../../runtime/base/errors.js';

/**
 * Multiline start patterns come from container labels (`berth.logs.multiline`),
 * that is from whoever built the image, and run on the agent's main thread for
 * every line a container prints. A JavaScript RegExp backtracks: `^(a+)+$`
 * against a line of 30 `a`s and a `b` takes minutes and freezes the API, DNS
 * and the Consul sync with it. RE2 (the `re2` binding of Google's engine)
 * matches in time linear in the input and refuses what cannot be done so
 * (backreferences, lookaround), so a pattern costs at most its size times the
 * bytes it sees.
 */

/** Longest pattern accepted: RE2 compiles in time and memory that grow with the pattern (and with `\p{…}` classes). */
export const MULTILINE_PATTERN_MAX_CHARS = 256;
/** A start pattern sees only this much of a line: record starts are at the front; this bounds each match. */
export const MULTILINE_SCAN_MAX_CHARS = 4096;

/** A compiled start-of-record test. */
export interface LinePattern {
  /** The pattern as written. */
  readonly source: string;
  /** True when `text` (its first MULTILINE_SCAN_MAX_CHARS characters) matches. */
  test(text: string): boolean;
}

let RE2: typeof RE2Type | undefined;
/** The native binding, loaded on first use: only the logs sidecar needs it, never the CLI. */
function re2(): typeof RE2Type {
  RE2 ??= createRequire(import.meta.url)('re2') as typeof RE2Type;
  return RE2;
}

/** Compiles a multiline start pattern with RE2, naming the field and the reason when it is refused. */
export function compileMultiline(pattern: string, field = 'multilineStart'): LinePattern {
  const refuse = (reason: string, cause?: unknown): never => {
    throw new InvalidArgumentError(`${field}: ${JSON.stringify(pattern.slice(0, 80))} ${reason}`, {
      field,
      ...(cause === undefined ? {} : { cause }),
    });
  };
  if (pattern.length > MULTILINE_PATTERN_MAX_CHARS)
    refuse(`is ${pattern.length} characters long; at most ${MULTILINE_PATTERN_MAX_CHARS}`);
  if (/\\[pP]\{/.test(pattern))
    refuse(
      'uses a Unicode property class (\\p{…}), which costs RE2 megabytes per class; spell the characters',
    );
  let re: RE2Type;
  try {
    re = new (re2())(pattern);
  } catch (err) {
    refuse(
      `is not a valid RE2 regular expression (${err instanceof Error ? err.message : String(err)}; ` +
        'RE2 has no backreferences or lookaround)',
      err,
    );
    throw err; // unreachable: refuse throws
  }
  return {
    source: pattern,
    test: (text) =>
      re.test(text.length > MULTILINE_SCAN_MAX_CHARS ? text.slice(0, MULTILINE_SCAN_MAX_CHARS) : text),
  };
}
