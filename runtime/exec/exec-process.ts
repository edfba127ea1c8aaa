import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../base/errors.js';
import type { ExecIO } from '../runtime.js';
import type { RuncClient } from './runc.js';
import { resolveUser } from './user.js';

/** Each stream keeps at most this much; the rest is dropped (exec is for probes and short commands). */
const MAX_OUTPUT = 16 << 20;

export interface ExecProcessRequest {
  cmd: string[];
  env?: string[];
  user?: string;
  workdir?: string;
  /**
   * Bytes of each stream kept when the output is collected (no `io`), at most
   * the 16 MiB default; the rest is read and dropped. A health probe keeps
   * only what its log shows.
   */
  outputLimit?: number;
}

export interface ExecJob {
  runc: RuncClient;
  id: string;
  bundleDir: string;
  /** Where the process.json, pid file and runtime log of this exec go (removed afterwards). */
  workDir: string;
  req: ExecProcessRequest;
  signal?: AbortSignal;
  /** Relay the command's streams as they come instead of collecting its output. */
  io?: ExecIO;
}

/**
 * `runc exec --process <json>` with the container's own process settings
 * (capabilities, no_new_privileges, rlimits, AppArmor/SELinux labels, user,
 * env) and the request's overrides, so an exec'd command has no more power
 * than the container's main process.
 *
 * A command that cannot be started (missing binary, bad workdir) is reported
 * like a shell would: exit code 127 (not found) or 126, with runc's message
 * on stderr, because health checks count it as a failed probe, not as an
 * agent error.
 */
export async function runExec(job: ExecJob): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { req, id } = job;
  if (req.cmd.length === 0 || req.cmd[0] === '') {
    throw new InvalidArgumentError('cmd: must name a command', { field: 'cmd' });
  }
  if (req.workdir !== undefined && !isAbsolute(req.workdir)) {
    throw new InvalidArgumentError(`workdir: "${req.workdir}" must be absolute`, { field: 'workdir' });
  }
  job.signal?.throwIfAborted();
  const config = await readConfig(job.bundleDir, id);
  const base = (config.process ?? {}) as Record<string, unknown>;
  const proc: Record<string, unknown> = { ...base, terminal: false, args: req.cmd };
  delete proc.consoleSize;
  proc.env = mergeEnv(asStrings(base.env), req.env ?? []);
  if (req.workdir !== undefined) proc.cwd = req.workdir;
  if (req.user !== undefined && req.user !== '') {
    const root = (config.root as { path?: string } | undefined)?.path ?? 'rootfs';
    proc.user = await resolveUser(isAbsolute(root) ? root : join(job.bundleDir, root), req.user);
  }

  const tag = randomBytes(4).toString('hex');
  const specPath = join(job.workDir, `exec-${tag}.json`);
  const pidPath = join(job.workDir, `exec-${tag}.pid`);
  const logPath = join(job.workDir, `exec-${tag}.log`);
  // It carries the container's env and the request's (secrets often): root only, from its creation on.
  await writeFile(specPath, JSON.stringify(proc), { mode: 0o600, flag: 'wx' });
  try {
    return await spawnExec(job, specPath, pidPath, logPath);
  } finally {
    await Promise.all([specPath, pidPath, logPath].map((p) => rm(p, { force: true })));
  }
}

function spawnExec(
  job: ExecJob,
  specPath: string,
  pidPath: string,
  logPath: string,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { runc, id, signal, io } = job;
  return new Promise((resolve, reject) => {
    const child = spawn(
      runc.runtimePath,
      [
        '--root',
        runc.root,
        '--log',
        logPath,
        '--log-format',
        'json',
        'exec',
        '--process',
        specPath,
        '--pid-file',
        pidPath,
        id,
      ],
      { stdio: [io?.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] },
    );
    const limit = Math.min(job.req.outputLimit ?? MAX_OUTPUT, MAX_OUTPUT);
    const out = collector(limit);
    const err = collector(limit);
    const { stdout: outPipe, stderr: errPipe } = child;
    if (!outPipe || !errPipe) throw new Error('runc exec: no output pipes');
    // The end of what stderr said: runc prints its own failure there too, which is then not repeated.
    let errTail = '';
    if (io) {
      // pipe() pauses the command's output while the caller's side is full; the caller ends its streams.
      outPipe.pipe(io.stdout, { end: false });
      errPipe.pipe(io.stderr, { end: false });
      errPipe.on('data', (c: Buffer) => {
        errTail = (errTail + c.toString()).slice(-4096);
      });
      if (io.stdin && child.stdin) {
        // The command may exit without reading all of it (head -c 1): that is its business, not an error.
        child.stdin.on('error', () => undefined);
        io.stdin.pipe(child.stdin);
        child.once('close', () => io.stdin?.unpipe(child.stdin ?? undefined));
      }
    } else {
      outPipe.on('data', out.push);
      errPipe.on('data', err.push);
    }
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void killExecProcess(pidPath, child.pid);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) {
        reject(signal?.reason ?? new Error('exec aborted'));
        return;
      }
      void (async () => {
        const exitCode = code ?? 128 + signalNumber(sig);
        const stdout = out.text();
        const stderr = err.text();
        if (exitCode !== 0) {
          const failure = await runtimeFailure(logPath);
          if (failure !== undefined) {
            if (/not running|stopped container|paused/i.test(failure)) {
              reject(new FailedPreconditionError(`container ${id}: cannot exec: ${failure}`));
              return;
            }
            if (/container does not exist/i.test(failure)) {
              reject(new NotFoundError(`container ${id}: ${failure}`));
              return;
            }
            const notFound = /no such file|not found in \$PATH|executable file not found/i.test(failure);
            const said = (io ? errTail : stderr).includes(failure) ? '' : `${failure}\n`;
            if (io && said) io.stderr.write(said);
            resolve({ exitCode: notFound ? 127 : 126, stdout, stderr: io ? '' : `${stderr}${said}` });
            return;
          }
        }
        resolve({ exitCode, stdout, stderr });
      })();
    });
  });
}

/** SIGKILL the exec'd process itself: runc cannot forward SIGKILL, and killing runc alone would orphan it. */
async function killExecProcess(pidPath: string, runcPid: number | undefined): Promise<void> {
  for (let i = 0; i < 40; i++) {
    try {
      const pid = Number((await readFile(pidPath, 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 0) {
        process.kill(pid, 'SIGKILL');
        return;
      }
    } catch {
      // pid file not written yet (ENOENT), or the process exited before the kill (ESRCH): look again
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (runcPid !== undefined) {
    try {
      process.kill(runcPid, 'SIGKILL');
    } catch {
      // ESRCH: runc already exited, which is what the kill was for
    }
  }
}

/** runc's own error (as opposed to the command's exit status), from its json log. */
async function runtimeFailure(logPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch {
    // no log: runc wrote no error, so the command's own exit status stands
    return undefined;
  }
  const msgs: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string };
      if ((rec.level === 'error' || rec.level === 'fatal') && rec.msg) msgs.push(rec.msg);
    } catch {
      // not a json record (runc prints some plain lines): not an error message to report
    }
  }
  return msgs.length > 0 ? msgs.join('; ') : undefined;
}

async function readConfig(bundleDir: string, id: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new FailedPreconditionError(`container ${id}: cannot read ${bundleDir}/config.json`, {
      cause: err,
    });
  }
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Later entries win by variable name, like `docker exec -e`. */
function mergeEnv(base: string[], extra: string[]): string[] {
  const byName = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const eq = e.indexOf('=');
    byName.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  return [...byName.values()];
}

function collector(max: number): { push: (b: Buffer) => void; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push: (b: Buffer) => {
      if (size >= max) return;
      // The last, partial chunk is copied: a slice would keep the whole chunk alive.
      const part = b.length <= max - size ? b : Buffer.from(b.subarray(0, max - size));
      chunks.push(part);
      size += part.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

function signalNumber(sig: NodeJS.Signals | null): number {
  if (sig === null) return 0;
  return (constants.signals as Record<string, number>)[sig] ?? 0;
}
