import { errorCode } from '../../runtime/base/errors.js';
import { cliError } from './errors.js';

/**
 * Runs `fn` for every name given to a multi-container verb, as Docker's do:
 * a failure is reported (`berth: <message>`) and the other names still run;
 * the verb then exits 125. Returns the results of the ones that succeeded.
 * An unreachable agent stops the loop at once (said once, not per name).
 */
export async function forEachName<T>(names: string[], fn: (name: string) => Promise<T>): Promise<T[]> {
  const done: T[] = [];
  for (const name of names) {
    try {
      done.push(await fn(name));
    } catch (err) {
      if (errorCode(err) === 'Unavailable') throw err;
      const { line, exit } = cliError(err);
      process.stderr.write(`${line}\n`);
      process.exitCode = exit;
    }
  }
  return done;
}
