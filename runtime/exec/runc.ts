import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/**
 * Does what `runc start` does, without a runc process (10-20 ms of every
 * container start). After `runc create`, runc init waits to open
 * <root>/<id>/exec.fifo for writing; once a reader opens it, init writes one
 * byte and execs the container's process. `runc start` is that reader: it
 * reads the byte and removes the fifo, which is what makes `runc state` say
 * running (runc 1.0 through 1.2, libcontainer's exec()). Opened non-blocking,
 * so a dead init never hangs a thread. False (nothing done) when there is no
 * fifo to open: `runc start` then runs and reports whatever is wrong.
 */
export async function startThroughFifo(runtimeRoot: string, id: string): Promise<boolean> {
  const fifo = join(runtimeRoot, id, 'exec.fifo');
  let fh: FileHandle;
  try {
    if (!(await stat(fifo)).isFIFO()) return false;
    fh = await open(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch {
    // No fifo (not created, or started already): `runc start` runs instead and says what is wrong.
    return false;
  }
  try {
    const buf = Buffer.alloc(16);
    const deadline = Date.now() + 10_000;
    // 0 bytes: init has not opened its end yet; EAGAIN: it has, and not written yet.
    for (;;) {
      let n = 0;
      try {
        n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (n > 0) break;
      if (Date.now() > deadline) {
        throw new UnavailableError(`container ${id}: runc init did not signal through exec.fifo in 10 s`);
      }
      await sleep(1);
    }
  } finally {
    await fh.close();
  }
  await rm(fifo, { force: true });
  return true;
}
