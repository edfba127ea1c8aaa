/**
 * The log viewer's model of a line, and how a raw record becomes one: JSON
 * lines are split into fields with their level, plain lines get a level when
 * they name one early on, and continuation lines (a stack trace's indented
 * frames, `Caused by:`) join the line they continue. Pure code: the unit tests
 * run it under Node.
 */

/** A record as /v1/ws/logs sends it (an array of these per message). */
export interface LogRecord {
  container: string;
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogEntry {
  /** Arrival order within a pane: the virtual scroller's key. */
  seq: number;
  container: string;
  stream: 'stdout' | 'stderr';
  /** The record's RFC 3339 time as sent, and as epoch milliseconds for "jump to a time". */
  time: string;
  ms: number;
  line: string;
  /** Continuation lines grouped under this one (a stack trace), at most MAX_CONTINUATION. */
  more: string[];
  /** How many continuation lines were dropped past MAX_CONTINUATION. */
  moreDropped: number;
  level?: Level;
  /** Set when the line is a JSON object: its message and its other fields, in order. */
  json?: { message?: string; fields: Array<[string, string]> };
}

/** A group longer than this keeps counting but stops growing (one entry must stay small). */
export const MAX_CONTINUATION = 500;
/** JSON is only parsed in lines up to this long: a huge line stays plain text rather than stall a frame. */
const MAX_JSON_CHARS = 64 * 1024;

const LEVEL_WORDS: Record<string, Level> = {
  trace: 'trace',
  debug: 'debug',
  dbg: 'debug',
  info: 'info',
  information: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'fatal',
  panic: 'fatal',
  critical: 'fatal',
  crit: 'fatal',
};
const LEVEL_KEYS = ['level', 'lvl', 'severity', 'loglevel', 'log.level', 'levelname'];
const MESSAGE_KEYS = ['msg', 'message', 'log'];
/** Fields a JSON line carries that the row already shows (its time column) or that say nothing to a reader. */
const HIDDEN_KEYS = new Set(['time', 'timestamp', 'ts', '@timestamp', 'v']);
/**
 * A level in a plain line: an upper-case word (`ERROR`, `WARN`), or, in any
 * case, a bracketed one (`[error]`) or logfmt's `level=`. A lower-case word
 * in a sentence ("after the trace") is not a level.
 */
const PLAIN_LEVEL_WORD = /\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|FATAL|PANIC|CRIT(?:ICAL)?)\b/;
const PLAIN_LEVEL_TAGGED =
  /\[(trace|debug|info|notice|warn(?:ing)?|error|err|fatal|panic|crit(?:ical)?)\]|\blevel=["']?(\w+)/i;
/** Stack frames and their friends: indented lines, Java's "Caused by:" and "... 12 more". */
const CONTINUATION = /^(?:\s+\S|Caused by: |\.\.\. \d+ more)/;

/** Normalizes a level as loggers write it: words in any case, pino/bunyan numbers, syslog numbers are not guessed. */
export function levelOf(value: unknown): Level | undefined {
  if (typeof value === 'number') {
    // pino and bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
    if (value >= 60) return 'fatal';
    if (value >= 50) return 'error';
    if (value >= 40) return 'warn';
    if (value >= 30) return 'info';
    if (value >= 20) return 'debug';
    if (value >= 10) return 'trace';
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  return LEVEL_WORDS[value.toLowerCase()];
}

/** Milliseconds since the epoch of an RFC 3339 time with up to nanoseconds (Date.parse wants at most 3 digits). */
export function timeMs(time: string): number {
  const ms = Date.parse(time.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? 0 : ms;
}

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Fields of a JSON object line, or undefined when the line is not one. */
export function parseJsonLine(
  line: string,
): { level?: Level; json: NonNullable<LogEntry['json']> } | undefined {
  const t = line.trimStart();
  if (!t.startsWith('{') || t.length > MAX_JSON_CHARS) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const rec = obj as Record<string, unknown>;
  let level: Level | undefined;
  let levelKey: string | undefined;
  for (const k of LEVEL_KEYS) {
    if (k in rec) {
      level = levelOf(rec[k]);
      if (level) {
        levelKey = k;
        break;
      }
    }
  }
  const messageKey = MESSAGE_KEYS.find((k) => typeof rec[k] === 'string');
  const fields: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(rec)) {
    if (k === levelKey || k === messageKey || HIDDEN_KEYS.has(k)) continue;
    fields.push([k, show(v)]);
  }
  const json: NonNullable<LogEntry['json']> = { fields };
  if (messageKey) json.message = rec[messageKey] as string;
  return level ? { level, json } : { json };
}

/** The level a plain text line names in its first 80 characters, if any. */
export function plainLevel(line: string): Level | undefined {
  const head = line.slice(0, 80);
  const word = PLAIN_LEVEL_WORD.exec(head);
  const tagged = PLAIN_LEVEL_TAGGED.exec(head);
  if (word && (!tagged || word.index <= tagged.index)) return levelOf(word[1]);
  return tagged ? levelOf(tagged[1] ?? tagged[2]) : undefined;
}

/** Whether a line continues the previous one of the same container and stream (a stack frame). */
export function isContinuation(line: string): boolean {
  return CONTINUATION.test(line);
}

/**
 * Turns records into entries, grouping continuation lines under the last
 * entry of the same container and stream. Keeps, per container and stream,
 * the entry a continuation would join.
 */
export class EntryBuilder {
  private seq = 0;
  private readonly lastBy = new Map<string, LogEntry>();

  /**
   * Adds a record: returns the new entry, or the entry it was grouped under
   * (`grouped: true`; the caller re-renders that row).
   */
  add(rec: LogRecord): { entry: LogEntry; grouped: boolean } {
    const key = `${rec.stream}\u0000${rec.container}`;
    const prev = this.lastBy.get(key);
    if (prev && !prev.json && isContinuation(rec.line)) {
      if (prev.more.length < MAX_CONTINUATION) prev.more.push(rec.line);
      else prev.moreDropped++;
      return { entry: prev, grouped: true };
    }
    const entry: LogEntry = {
      seq: this.seq++,
      container: rec.container,
      stream: rec.stream,
      time: rec.time,
      ms: timeMs(rec.time),
      line: rec.line,
      more: [],
      moreDropped: 0,
    };
    const parsed = parseJsonLine(rec.line);
    if (parsed) {
      entry.json = parsed.json;
      if (parsed.level) entry.level = parsed.level;
    } else {
      const level = plainLevel(rec.line);
      if (level) entry.level = level;
    }
    this.lastBy.set(key, entry);
    return { entry, grouped: false };
  }

  /** Forgets the entries continuations would join (after a clear or a reload from history). */
  reset(): void {
    this.lastBy.clear();
  }
}

/** An entry as text, continuation lines included: what search looks at and what a download holds. */
export function entryText(e: LogEntry): string {
  return e.more.length === 0 ? e.line : `${e.line}\n${e.more.join('\n')}`;
}
