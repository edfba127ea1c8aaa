import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  UnavailableError,
} from '../../runtime/base/errors.js';
import { HAPROXY_ENV } from './config.js';

export interface ValidateOptions {
  binary: string;
  /** Files loaded before the candidate (berth's global file). */
  preludeFiles: string[];
  /** Directory for the candidate file (beside the live one, so rename stays on one filesystem). */
  dir: string;
  timeoutMs: number;
}

/** The line HAProxy complained about, from `[ALERT] ... parsing [file:12] : ...`. */
export interface ConfigProblem {
  line: number | undefined;
  text: string | undefined;
  message: string;
}

/**
 * Writes `config` to a temp file and runs `haproxy -c` on it. Resolves with
 * the temp path (the caller installs it by rename) or throws
 * InvalidArgumentError naming the line and its text, after removing the file.
 */
export async function validateConfigText(config: string, opts: ValidateOptions): Promise<string> {
  await mkdir(opts.dir, { recursive: true });
  const candidate = join(opts.dir, `.candidate-${process.pid}-${randomBytes(4).toString('hex')}.cfg`);
  await writeFile(candidate, config, { mode: 0o600 });
  const args = ['-c'];
  for (const f of opts.preludeFiles) args.push('-f', f);
  args.push('-f', candidate);
  let result: { code: number | null; output: string };
  try {
    result = await run(opts.binary, args, opts.timeoutMs);
  } catch (err) {
    await rm(candidate, { force: true });
    throw err;
  }
  if (result.code === 0) return candidate;
  await rm(candidate, { force: true });
  if (result.code === null) {
    throw new UnavailableError(`haproxy -c did not finish within ${opts.timeoutMs} ms`);
  }
  const problem = firstProblem(result.output, basename(candidate), config);
  const where =
    problem.line !== undefined
      ? `line ${problem.line}${problem.text !== undefined ? ` (${problem.text.trim()})` : ''}: `
      : '';
  throw new ConfigRejectedError(`haproxy rejected the rendered config: ${where}${problem.message}`, problem);
}

/** `haproxy -c` refused a config; `problem.line` (1-based, in the candidate) when HAProxy named one. */
export class ConfigRejectedError extends InvalidArgumentError {
  constructor(
    message: string,
    readonly problem: ConfigProblem,
  ) {
    super(message, { field: 'config' });
  }
}

/** Parses HAProxy's check output into the first complaint about `fileName`. */
export function firstProblem(output: string, fileName: string, config: string): ConfigProblem {
  const lines = config.split('\n');
  for (const l of output.split('\n')) {
    const m = /\[([^\]]*?):(\d+)\]\s*:\s*(.*)$/.exec(l);
    if (m === null || !(m[1] ?? '').endsWith(fileName)) continue;
    const line = Number(m[2]);
    return { line, text: lines[line - 1], message: (m[3] ?? '').trim() };
  }
  const alert = output
    .split('\n')
    .map((l) => l.replace(/^\[(ALERT|WARNING)\]\s*\(\d+\)\s*:\s*/, '').trim())
    .find((l) => l !== '' && !l.startsWith('[NOTICE]'));
  return { line: undefined, text: undefined, message: alert ?? (output.trim() || 'unknown error') };
}

function run(
  bin: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const o = { timeout: timeoutMs, killSignal: 'SIGKILL' as const, env: { ...HAPROXY_ENV } };
    execFile(bin, args, o, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err === null) {
        resolve({ code: 0, output });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
      if (e.code === 'ENOENT') {
        reject(
          new FailedPreconditionError(`haproxy binary ${JSON.stringify(bin)} not found`, { cause: err }),
        );
        return;
      }
      resolve({ code: e.killed ? null : typeof e.code === 'number' ? e.code : 1, output });
    });
  });
}
