import { type Logger, pino } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Component name, e.g. `runtime`, `logs`; added to every line as `component`. */
  name?: string;
  /** Write to this fd/stream instead of stderr (stdout stays free for command output). */
  destination?: NodeJS.WritableStream | number;
}

/**
 * Structured JSON logs (pino) on stderr. Create one root logger in the
 * composition root and hand `child({component})` loggers to modules; no module
 * creates its own.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.BERTH_LOG_LEVEL ?? 'info';
  const dest = opts.destination ?? 2;
  const stream = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino({ level, name: opts.name ?? 'berth', base: { pid: process.pid } }, stream);
}

/** A logger that discards everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
