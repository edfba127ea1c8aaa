import { execFile } from 'node:child_process';
import { FailedPreconditionError, NotFoundError, UnavailableError } from '../base/errors.js';

/** What `runc state` prints (the fields berth reads). */
export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  created?: string;
}

export interface RuncResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Thin wrapper over the OCI runtime CLI (runc; crun takes the same verbs and
 * flags). Every call passes `--root` so each agent has its own state tree.
 */
export class RuncClient {
  constructor(
    readonly runtimePath: string,
    readonly root: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Runs a runtime command; never throws for a non-zero exit. */
  run(args: string[]): Promise<RuncResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.runtimePath,
        ['--root', this.root, ...args],
        { timeout: this.timeoutMs, maxBuffer: 8 << 20, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== 'number') {
            // Spawn failure (missing binary) or timeout: the runtime is not usable right now.
            reject(
              new UnavailableError(`OCI runtime ${this.runtimePath} ${args[0] ?? ''}: ${err.message}`, {
                cause: err,
              }),
            );
            return;
          }
          resolve({ code: err && typeof err.code === 'number' ? err.code : 0, stdout, stderr });
        },
      );
    });
  }

  /** Runs a command and maps a failure to NotFound (unknown id) or FailedPrecondition. */
  async must(id: string, args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw runtimeError(id, args[0] ?? 'runtime', r.stderr);
    return r.stdout;
  }

  /** The container's state, or undefined when the runtime does not know the id. */
  async state(id: string): Promise<RuncState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) {
      if (isMissing(r.stderr)) return undefined;
      throw runtimeError(id, 'state', r.stderr);
    }
    return JSON.parse(r.stdout) as RuncState;
  }
}

export function isMissing(stderr: string): boolean {
  return /does not exist|not found|no such file/i.test(stderr) && !/exec/i.test(stderr);
}

/** runc prints `time="…" level=error msg="…"` (or plain text); keep just the message. */
export function runtimeMessage(stderr: string): string {
  const msgs: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m?.[1] !== undefined) msgs.push(m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
    else if (line.trim() !== '') msgs.push(line.trim());
  }
  return msgs.join('; ') || 'no error message';
}

export function runtimeError(id: string, verb: string, stderr: string): Error {
  const msg = runtimeMessage(stderr);
  if (isMissing(stderr)) return new NotFoundError(`container ${id}: not known to the OCI runtime (${msg})`);
  return new FailedPreconditionError(`container ${id}: runtime ${verb} failed: ${msg}`);
}
