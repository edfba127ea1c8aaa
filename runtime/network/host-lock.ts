import { open, readFile, rename, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../base/errors.js';

/** Where agents on one host take turns picking subnets (/run/lock is tmpfs: a reboot frees it). */
export const DEFAULT_POOL_LOCK = '/run/lock/berth-network-pool.lock';

/**
 * Runs `fn` holding a lock file every berth agent on this host uses, so two
 * agents creating networks at once never pick the same subnet: a pick reads
 * the host's addresses, and the other agent's new bridge has none until it
 * is set up. The file (`O_EXCL`) holds the owner's pid; a file whose owner
 * is gone (a killed agent) is taken over.
 */
export async function withHostLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (owner > 0 && !alive(owner)) {
      // The rename lets one taker win when several find it stale at once.
      const stale = `${file}.stale-${process.pid}`;
      if (
        await rename(file, stale).then(
          () => true,
          () => false,
        )
      )
        await rm(stale, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new UnavailableError(`network: ${file} is held by pid ${owner || '?'} for over ${timeoutMs} ms`);
    await sleep(10 + Math.floor(Math.random() * 20));
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
