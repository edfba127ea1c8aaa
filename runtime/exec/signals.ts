import { constants } from 'node:os';
import { InvalidArgumentError } from '../base/errors.js';

const SIGNALS = constants.signals as Record<string, number>;

/**
 * Normalises "TERM", "sigterm", "SIGTERM" or "15" to the canonical name ("SIGTERM")
 * that `runc kill` accepts. Throws InvalidArgumentError naming `signal`.
 */
export function normalizeSignal(input: string): string {
  const s = input.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = signalName(n);
    if (name === undefined) {
      throw new InvalidArgumentError(`signal: "${input}" is not a signal number on this host (1-64)`, {
        field: 'signal',
      });
    }
    return name;
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (SIGNALS[name] === undefined) {
    throw new InvalidArgumentError(`signal: "${input}" is not a signal name (e.g. TERM, SIGKILL, 9)`, {
      field: 'signal',
    });
  }
  return name;
}

/** The canonical name for a signal number, when the host knows it. */
export function signalName(n: number): string | undefined {
  for (const [name, num] of Object.entries(SIGNALS)) {
    // SIGIOT/SIGABRT and SIGPOLL/SIGIO alias the same numbers; the first listed is the common one.
    if (num === n) return name;
  }
  // Real-time signals are not in os.constants but runc accepts them by number.
  if (n >= 34 && n <= 64) return String(n);
  return undefined;
}

/**
 * conmon reports a process killed by signal n as exit code 128+n, the shell
 * convention. A process that calls exit(137) itself is indistinguishable.
 */
export function signalFromExitCode(code: number): string | undefined {
  if (code <= 128 || code > 128 + 64) return undefined;
  const name = signalName(code - 128);
  return name?.startsWith('SIG') ? name : undefined;
}
