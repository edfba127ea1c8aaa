import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, messageOf } from '../base/errors.js';

/** Kernel parameters the bridge needs (`net/ipv4/ip_forward`, a bridge's `route_localnet`). Injected in tests. */
export interface SysctlWriter {
  /** Sets `key` (a path under /proc/sys, e.g. `net/ipv4/ip_forward`) unless it already holds `value`. */
  set(key: string, value: string): Promise<void>;
}

/** Writes `<procRoot>/sys/<key>`; a failure is a FailedPreconditionError naming the file. */
export class ProcSysctl implements SysctlWriter {
  constructor(private readonly procRoot = '/proc') {}

  async set(key: string, value: string): Promise<void> {
    const file = path.join(this.procRoot, 'sys', key);
    try {
      const cur = (await readFile(file, 'utf8')).trim();
      if (cur !== value) await writeFile(file, value);
    } catch (err) {
      throw new FailedPreconditionError(`network: cannot set ${file} to ${value}: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }
}
