import { type ErrorCode, errorCode, messageOf } from '../../runtime/base/errors.js';
import { nameFlagInMessage } from './run-request.js';

/**
 * What the CLI does with each error code the API answers with (or its own
 * errors carry), in one place: the exit status and the line printed. Every
 * code exits 125, as Docker's CLI does for its own failures (`run`, `exec`
 * and `wait` exit with the container's code otherwise); a hint follows the
 * message where the fix is on the user's side.
 */
export const CLI_ERRORS: Readonly<Record<ErrorCode, { exit: number; hint?: string }>> = {
  NotFound: { exit: 125 },
  AlreadyExists: { exit: 125 },
  // The message names the field; berth's own flags are named as the user typed them.
  InvalidArgument: { exit: 125 },
  FailedPrecondition: { exit: 125 },
  Unavailable: { exit: 125 },
  NotImplemented: { exit: 125 },
  Unauthenticated: { exit: 125, hint: "set BERTH_TOKEN to the agent's apiToken" },
  PermissionDenied: { exit: 125 },
  Internal: { exit: 125 },
};

/**
 * The line `berth: <message>` for `err` (no newline) and the exit status, from
 * CLI_ERRORS. `nameFlags`: an InvalidArgument's field is named as the `run`
 * flag the user typed (`--memory`, not `memory`).
 */
export function cliError(err: unknown, opts: { nameFlags?: boolean } = {}): { line: string; exit: number } {
  const code = errorCode(err) ?? 'Internal';
  const { exit, hint } = CLI_ERRORS[code];
  const msg =
    opts.nameFlags && code === 'InvalidArgument' ? nameFlagInMessage(messageOf(err)) : messageOf(err);
  return { line: `berth: ${msg}${hint ? ` (${hint})` : ''}`, exit };
}
