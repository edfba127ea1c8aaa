/**
 * Plain and regex search over log entries: a Matcher says whether an entry
 * matches and where, so the row can highlight each match. A bad regex is
 * reported with the browser's own reason. Pure code (unit-tested under Node).
 */
import { entryText, type LogEntry } from './entry.js';

/** Only this much of an entry is searched: a pathological pattern on a 1 MiB line must not freeze a frame. */
export const MAX_SEARCH_CHARS = 16 * 1024;

export interface Matcher {
  readonly query: string;
  test(e: LogEntry): boolean;
  /** [start, end) ranges of the matches in `text`, in order, non-overlapping. */
  ranges(text: string): Array<[number, number]>;
}

export type SearchMode = 'plain' | 'regex';

/** A matcher for `query`, undefined for an empty query, or `{error}` naming why a regex is refused. */
export function compileSearch(
  query: string,
  mode: SearchMode,
  caseSensitive = false,
): Matcher | undefined | { error: string } {
  if (query === '') return undefined;
  let re: RegExp;
  if (mode === 'regex') {
    try {
      re = new RegExp(query, caseSensitive ? 'g' : 'gi');
    } catch (err) {
      return { error: `regex: ${(err as Error).message}` };
    }
  } else {
    re = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), caseSensitive ? 'g' : 'gi');
  }
  return {
    query,
    test(e) {
      re.lastIndex = 0;
      return re.test(entryText(e).slice(0, MAX_SEARCH_CHARS));
    },
    ranges(text) {
      const out: Array<[number, number]> = [];
      const s = text.slice(0, MAX_SEARCH_CHARS);
      re.lastIndex = 0;
      for (let m = re.exec(s); m !== null; m = re.exec(s)) {
        if (m[0].length === 0) {
          // An empty match (`a*`, `^`) highlights nothing; step past it or the loop never ends.
          re.lastIndex++;
          continue;
        }
        out.push([m.index, m.index + m[0].length]);
        if (out.length >= 1000) break;
      }
      return out;
    },
  };
}

export function isSearchError(m: ReturnType<typeof compileSearch>): m is { error: string } {
  return m !== undefined && 'error' in m;
}
