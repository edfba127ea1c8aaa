import { spawn } from 'node:child_process';
import { FailedPreconditionError, InternalError } from '../base/errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs host tools (`ip`, `iptables`). Injected so the manager can be pointed
 * at other binaries (e.g. `iptables-legacy`) without touching its logic.
 */
export interface CommandRunner {
  /** Resolves with the result whatever the exit code; rejects only when the binary cannot be started. */
  run(cmd: string, args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class ChildProcessRunner implements CommandRunner {
  run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        env: { ...process.env, LC_ALL: 'C' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(
            new FailedPreconditionError(`${cmd}: not found on PATH (install iproute2 / iptables)`, {
              cause: err,
            }),
          );
        } else reject(new InternalError(`${cmd}: cannot start: ${err.message}`, { cause: err }));
      });
      child.on('close', (code, signal) => {
        resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) });
      });
    });
  }
}

/** Formats a failed command for an error message: the command line and its stderr. */
export function describeFailure(cmd: string, args: string[], res: CommandResult): string {
  const err = res.stderr.trim() || res.stdout.trim() || `exit code ${res.code}`;
  return `\`${[cmd, ...args].join(' ')}\` failed (exit ${res.code}): ${err}`;
}

/** Runs a command and throws InternalError naming it and its stderr on a non-zero exit. */
export async function mustRun(runner: CommandRunner, cmd: string, args: string[]): Promise<string> {
  const res = await runner.run(cmd, args);
  if (res.code !== 0) throw new InternalError(describeFailure(cmd, args, res));
  return res.stdout;
}
