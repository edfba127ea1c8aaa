import { constants } from 'node:fs';
import { copyFile, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, fsyncPath } from '../../runtime/base/atomic-file.js';

/**
 * Makes a validated candidate file the live config: fsync the candidate,
 * keep the current live file as `<live>.bak` (copied, then renamed, so the
 * backup is never torn either), rename the candidate over the live file and
 * fsync the directory. A crash leaves the old or the new config, never a mix.
 */
export async function installConfig(candidate: string, livePath: string): Promise<void> {
  await fsyncPath(candidate);
  const bak = `${livePath}.bak`;
  const bakTmp = `${bak}.tmp`;
  try {
    await copyFile(livePath, bakTmp, constants.COPYFILE_FICLONE);
    await fsyncPath(bakTmp);
    await rename(bakTmp, bak);
  } catch (err) {
    await rm(bakTmp, { force: true });
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rename(candidate, livePath);
  await fsyncDir(dirname(livePath));
}

/** Puts `<live>.bak` back (after HAProxy refused to load what was installed). False when there is no backup. */
export async function restoreBackup(livePath: string): Promise<boolean> {
  const bak = `${livePath}.bak`;
  const tmp = `${livePath}.restore.tmp`;
  try {
    await copyFile(bak, tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncPath(tmp);
  await rename(tmp, livePath);
  await fsyncDir(dirname(livePath));
  return true;
}

/** The live config text, '' when there is none yet. */
export async function readLive(livePath: string): Promise<string> {
  try {
    return await readFile(livePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}
