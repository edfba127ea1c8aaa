import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * conmon's control FIFO, `<bundle>/ctl` (conmon's ctrl.c, `setup_fifo` under
 * `opt_bundle_path`): it reads lines of `<type> <height> <width>`; type 1 is a
 * terminal resize, type 2 (REOPEN_LOGS_EVENT) reopens the log: for k8s-file
 * it closes its fd, creates `<path>.tmp` and renames it over `<path>`
 * (`reopen_k8s_file`). berth's log rotation (log-rotator.ts) renames the
 * file away first, so the reopen starts a new file and keeps the old one.
 */
export const REOPEN_LOGS_LINE = '2 0 0\n';

/** An open writing end of one container's control FIFO. */
export interface LogControl {
  /** Asks the monitor to reopen its log file (a new file at the log path). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `<bundleDir>/ctl` for writing, without blocking: undefined when the
 * FIFO is missing (not a conmon bundle) or nobody reads it (ENXIO: the
 * monitor is gone). Opening first, before anything is renamed, is what lets
 * the rotator refuse a rotation that nobody would finish.
 */
export async function openLogControl(bundleDir: string): Promise<LogControl | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(join(bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENXIO') return undefined;
    throw err;
  }
  if (!(await fh.stat()).isFIFO()) {
    // A regular file named ctl is not conmon's: writing to it would only grow it.
    await fh.close();
    return undefined;
  }
  return {
    // One short line (< PIPE_BUF) is written whole or not at all.
    reopen: async () => {
      await fh.write(REOPEN_LOGS_LINE);
    },
    close: () => fh.close(),
  };
}
