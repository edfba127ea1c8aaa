import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';

export type { Logger };

/** `json`: one JSON object a line; `pretty`: lines a person scans; `auto`: pretty on a terminal, else JSON. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  /** Component name, e.g. `runtime`, `logs`; added to every line as `component`. */
  name?: string;
  /** Write to this fd/stream instead of stderr (stdout stays free for command output). */
  destination?: NodeJS.WritableStream | number;
  /** Default `auto` (or BERTH_LOG_FORMAT). */
  format?: LogFormat;
}

/**
 * Structured logs (pino) on stderr. Create one root logger in the
 * composition root and hand `child({component})` loggers to modules; no module
 * creates its own. On a terminal they read as `time LEVEL component: message
 * key=value` (pino-pretty, loaded only then); piped or collected they stay
 * JSON, which is what log shippers parse.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.BERTH_LOG_LEVEL ?? 'info';
  const dest = opts.destination ?? 2;
  const base = { level, name: opts.name ?? 'berth', base: { pid: process.pid } };
  if (prettyWanted(opts.format ?? envFormat(), dest)) return pino(base, prettyStream(dest));
  const stream = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino(base, stream);
}

function envFormat(): LogFormat {
  const v = process.env.BERTH_LOG_FORMAT;
  return v === 'json' || v === 'pretty' ? v : 'auto';
}

function prettyWanted(format: LogFormat, dest: NodeJS.WritableStream | number): boolean {
  if (format !== 'auto') return format === 'pretty';
  if (typeof dest !== 'number') return false;
  return process.getBuiltinModule('node:tty').isatty(dest);
}

type PrettyFactory = (opts: Record<string, unknown>) => NodeJS.WritableStream;

/**
 * pino-pretty in the same thread and synchronous (not a worker transport):
 * a line logged just before the process exits is still printed, and the
 * agent's banner on stdout never overtakes the lines logged before it.
 */
function prettyStream(dest: NodeJS.WritableStream | number): NodeJS.WritableStream {
  const load = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
  const pretty = typeof load === 'function' ? load : load.default;
  const colorize = typeof dest === 'number' && process.getBuiltinModule('node:tty').isatty(dest);
  return pretty({
    destination: dest,
    sync: true,
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: (log: Record<string, unknown>, key: string) =>
      `${typeof log.component === 'string' ? `${log.component}: ` : ''}${String(log[key] ?? '')}`,
    singleLine: true,
  });
}

/** A logger that discards everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
