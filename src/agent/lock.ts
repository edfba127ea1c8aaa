import { createHash } from 'node:crypto';
import { readFile, realpath, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { writeFileAtomic } from '../../runtime/base/atomic-file.js';
import { FailedPreconditionError } from '../../runtime/base/errors.js';

/**
 * One agent per state root and run dir. Two agents on the same directories
 * would both re-adopt the same containers, race on records and IPAM, and the
 * second would delete the first one's API socket.
 *
 * The lock is an abstract unix socket named after the directory's real path:
 * the kernel lets one process bind a name, and frees it when that process
 * dies however it dies (kill -9 included), so there is no stale lock to
 * clean up and no window between "check" and "take". `agent.pid` in the state
 * root is only there to name the holder in the error.
 */
export interface AgentLock {
  release(): Promise<void>;
}

export async function lockAgentDirs(dirs: { stateRoot: string; runDir: string }): Promise<AgentLock> {
  const held: Server[] = [];
  const releaseAll = () => Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  try {
    for (const [field, dir] of Object.entries(dirs)) {
      const real = await realpath(dir);
      const name = `\0berth-agent:${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
      const server = createServer((sock) => sock.destroy());
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ path: name }, () => resolve());
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        const pid = (await readFile(join(dirs.stateRoot, 'agent.pid'), 'utf8').catch(() => '')).trim();
        throw new FailedPreconditionError(
          `${field}: ${dir} is in use by another berth agent${/^\d+$/.test(pid) ? ` (pid ${pid})` : ''}; one agent per ${field === 'stateRoot' ? 'state root' : 'run dir'}`,
        );
      }
      server.unref();
      held.push(server);
    }
  } catch (err) {
    await releaseAll();
    throw err;
  }
  const pidFile = join(dirs.stateRoot, 'agent.pid');
  await writeFileAtomic(pidFile, `${process.pid}\n`, { sync: false });
  return {
    async release() {
      const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim();
      if (pid === String(process.pid)) await rm(pidFile, { force: true });
      await releaseAll();
    },
  };
}
