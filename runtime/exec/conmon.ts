import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { FailedPreconditionError, UnavailableError } from '../base/errors.js';
import type { StateLayout } from './state.js';

export interface ConmonLaunch {
  conmonPath: string;
  args: string[];
  /** How long to wait for conmon to report the container pid. */
  timeoutMs: number;
  /** conmon's own stderr; a file, not a pipe, because the daemon keeps writing after we stop reading. */
  stderrPath: string;
  /** conmon's working directory: it writes an `oom` file into its cwd as well as into the persist dir. */
  cwd: string;
}

/**
 * conmon's command line for container `id` (README: "How conmon is
 * invoked"): its state under `layout`, the k8s-file log at `logPath`, the
 * OCI runtime's `--root` and json log.
 */
export function conmonArgs(
  id: string,
  o: {
    layout: StateLayout;
    runtimePath: string;
    bundleDir: string;
    logPath: string;
    terminal: boolean;
    logSizeMax?: number | undefined;
  },
): string[] {
  const L = o.layout;
  const args = [
    '--api-version',
    '1',
    '-c',
    id,
    '-u',
    id,
    '-n',
    id,
    '-r',
    o.runtimePath,
    '-b',
    o.bundleDir,
    '-p',
    L.pidFile(id),
    '-P',
    L.conmonPidFile(id),
    '-l',
    `k8s-file:${o.logPath}`,
    '--exit-dir',
    L.exitDir,
    '--persist-dir',
    L.containerDir(id),
    '--socket-dir-path',
    L.socketDir,
    '--runtime-arg',
    `--root=${L.runtimeRoot}`,
    '--runtime-arg',
    `--log=${L.runtimeLog(id)}`,
    '--runtime-arg',
    '--log-format=json',
  ];
  // With process.terminal the runtime wants a console socket; conmon provides it and logs the pty.
  if (o.terminal) args.push('--terminal');
  if (o.logSizeMax !== undefined && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  return args;
}

/**
 * Starts conmon and returns the container's init pid.
 *
 * conmon forks itself away (the process we spawn exits at once; the daemon is
 * re-parented to init), so the container and its monitor outlive the agent.
 * With `--api-version 1` conmon writes `{"data": <pid>}` on the sync pipe (fd 3,
 * named by `_OCI_SYNCPIPE`) after `runtime create` succeeded, or
 * `{"data": -1, "message": "<runtime error>"}` when it failed. The daemon keeps
 * its end of the pipe open, so we stop reading after the first message.
 */
export function launchConmon(id: string, launch: ConmonLaunch): Promise<number> {
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    let errFd: number;
    try {
      errFd = openSync(launch.stderrPath, 'a');
    } catch (err) {
      reject(err);
      return;
    }
    try {
      child = spawn(launch.conmonPath, launch.args, {
        stdio: ['ignore', 'ignore', errFd, 'pipe'],
        env: { ...process.env, _OCI_SYNCPIPE: '3' },
        cwd: launch.cwd,
        detached: true,
      });
    } catch (err) {
      reject(new UnavailableError(`conmon ${launch.conmonPath}: ${String(err)}`, { cause: err }));
      return;
    } finally {
      closeSync(errFd);
    }
    const sync = child.stdio[3] as Readable | null;
    const stderr = (): string => {
      try {
        return readFileSync(launch.stderrPath, 'utf8').slice(-4096).trim();
      } catch {
        // conmon wrote nothing (file not created): the message says "no output"
        return '';
      }
    };
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, pid?: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sync?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(pid ?? 0);
    };
    const timer = setTimeout(() => {
      finish(
        new UnavailableError(
          `container ${id}: conmon did not report a pid within ${launch.timeoutMs} ms${stderr() ? `: ${stderr()}` : ''}`,
        ),
      );
    }, launch.timeoutMs);
    child.on('error', (err) => {
      finish(new UnavailableError(`conmon ${launch.conmonPath}: ${err.message}`, { cause: err }));
    });
    sync?.setEncoding('utf8');
    sync?.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const msg = parseSyncMessage(buf.slice(0, nl));
      if (msg === undefined) {
        finish(new UnavailableError(`container ${id}: unexpected conmon sync message: ${buf.slice(0, nl)}`));
      } else if (msg.data < 0) {
        finish(
          new FailedPreconditionError(`container ${id}: ${(msg.message ?? 'runtime create failed').trim()}`),
        );
      } else {
        finish(undefined, msg.data);
      }
    });
    sync?.on('end', () => {
      // conmon quit before reporting: usually bad arguments, explained on stderr.
      setTimeout(() => {
        finish(
          new UnavailableError(
            `container ${id}: conmon exited without reporting a pid: ${stderr() || 'no output'}`,
          ),
        );
      }, 50);
    });
  });
}

interface SyncMessage {
  data: number;
  message?: string;
}

function parseSyncMessage(line: string): SyncMessage | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const data = (v as { data?: unknown }).data;
    const message = (v as { message?: unknown }).message;
    if (typeof data !== 'number') return undefined;
    return typeof message === 'string' ? { data, message } : { data };
  } catch {
    // not JSON: the caller reports the line itself as an unexpected sync message
    return undefined;
  }
}
