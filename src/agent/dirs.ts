import { chmod, chown, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError } from '../../runtime/base/errors.js';

/**
 * Modes of the agent's roots. Containers write files as root inside (a
 * setuid-root binary in their upper dir or a volume); if a local user can
 * reach those files from the host, they run them as root (Docker's
 * CVE-2021-41091). So the roots are closed, as Docker's fix did: the state
 * root 0700 and the run dir 0710, which lets the API socket's group (the
 * agent's own group) reach the socket in it (`/run/berth/berth.sock`, itself
 * 0660) and nothing else. What a container sees keeps its own modes (its
 * rootfs and upper dir, a volume's `_data`): only the host paths above them
 * are closed.
 */
export const STATE_ROOT_MODE = 0o700;
export const RUN_DIR_MODE = 0o710;
/** Every directory directly under a root (images and layers, containers, snapshots, volumes, exec, …). */
export const HOLDER_MODE = 0o700;

/** The holders made at start, so none is ever created with a looser default first. */
const STATE_HOLDERS = ['images', 'containers', 'snapshots', 'volumes', 'network'];
const RUN_HOLDERS = ['exec', 'containers'];

/**
 * Creates the roots if missing (with their modes), before the agent lock is
 * taken; a second agent refused by the lock changes nothing else.
 */
export async function makeAgentRoots(dirs: { stateRoot: string; runDir: string }): Promise<void> {
  await mkdir(dirs.stateRoot, { recursive: true, mode: STATE_ROOT_MODE });
  await mkdir(dirs.runDir, { recursive: true, mode: RUN_DIR_MODE });
}

/**
 * Under the agent lock: makes the roots root-owned with their modes, creates
 * the holders, and tightens every directory directly under the roots, also
 * those an older release left 0711/0755. Returns what it changed, for the log.
 */
export async function secureAgentDirs(dirs: { stateRoot: string; runDir: string }): Promise<string[]> {
  const changed: string[] = [];
  const gid = process.getegid?.() ?? 0;
  await secure('stateRoot', dirs.stateRoot, STATE_ROOT_MODE, 0, changed);
  await secure('runDir', dirs.runDir, RUN_DIR_MODE, gid, changed);
  for (const [field, root, holders] of [
    ['stateRoot', dirs.stateRoot, STATE_HOLDERS],
    ['runDir', dirs.runDir, RUN_HOLDERS],
  ] as const) {
    for (const h of holders) await mkdir(join(root, h), { recursive: true, mode: HOLDER_MODE });
    for (const entry of await readdir(root, { withFileTypes: true })) {
      // Symlinks are never followed: chmod would change their target.
      if (!entry.isDirectory()) continue;
      await secure(field, join(root, entry.name), HOLDER_MODE, 0, changed);
    }
  }
  return changed;
}

async function secure(
  field: string,
  path: string,
  mode: number,
  gid: number,
  changed: string[],
): Promise<void> {
  const st = await stat(path);
  if (!st.isDirectory()) {
    throw new FailedPreconditionError(`${field}: ${path} is not a directory`);
  }
  if (st.uid !== 0 || st.gid !== gid) {
    await chown(path, 0, gid);
    changed.push(`${path} owner ${st.uid}:${st.gid} -> 0:${gid}`);
  }
  if ((st.mode & 0o7777) !== mode) {
    await chmod(path, mode);
    changed.push(`${path} mode ${(st.mode & 0o7777).toString(8)} -> ${mode.toString(8)}`);
  }
}
