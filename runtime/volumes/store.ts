import { chmod, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { type StoredVolumeInfo, VOLUME_NAME_RE, type VolumePort } from './types.js';

/**
 * The root and each `<root>/<name>`: root only. A container writes into a
 * volume as whoever it runs as (a setuid-root binary included); the dirs
 * above `_data` must not let a local user reach that (Docker's
 * CVE-2021-41091). `_data` keeps 0755 (or what the container set): it is
 * what the container sees.
 */
const HOLDER_MODE = 0o700;
const DATA_MODE = 0o755;

/**
 * The named volumes under one root, `<root>/<name>/_data` (Docker's layout).
 * It knows directories only; which containers use a volume is the container
 * manager's to say (it refuses to remove one in use).
 */
export class VolumeStore implements VolumePort {
  constructor(readonly root: string) {}

  /** Where a volume's data lives; the name is checked, so the path never leaves the root. */
  dataPath(name: string): string {
    checkName(name);
    return join(this.root, name, '_data');
  }

  /** Makes sure the volume exists; returns its data directory (what a container start needs, no stat). */
  async ensure(name: string): Promise<string> {
    const data = this.dataPath(name);
    await mkdir(join(this.root, name), { recursive: true, mode: HOLDER_MODE });
    await mkdir(data, { mode: DATA_MODE }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return data;
  }

  /** Creates the volume if it does not exist (as `docker volume create` does); returns it either way. */
  async create(name: string): Promise<StoredVolumeInfo> {
    await this.ensure(name);
    return this.get(name);
  }

  async get(name: string): Promise<StoredVolumeInfo> {
    const mountpoint = this.dataPath(name);
    try {
      const st = await stat(join(this.root, name));
      return {
        name,
        mountpoint,
        createdAt: st.birthtime.getTime() > 0 ? st.birthtime.toISOString() : st.mtime.toISOString(),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`no such volume: ${name}`);
      throw err;
    }
  }

  async list(): Promise<StoredVolumeInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const found = await Promise.all(
      // A volume removed between readdir and stat is simply not listed.
      names.filter((n) => VOLUME_NAME_RE.test(n)).map((n) => this.get(n).catch(() => undefined)),
    );
    return found
      .filter((v): v is StoredVolumeInfo => v !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Deletes the volume and its data. It is first renamed aside, so a half-done
   * delete (a crash in a large tree) never leaves a volume that looks whole.
   */
  async remove(name: string): Promise<void> {
    await this.get(name);
    const aside = join(this.root, `.removing-${name}-${process.pid}-${Date.now()}`);
    await rename(join(this.root, name), aside);
    await rm(aside, { recursive: true, force: true });
  }

  /**
   * At agent start: finishes deletes a crash interrupted (the renamed-aside
   * directories) and closes volume dirs an older release made 0755.
   */
  async sweep(): Promise<void> {
    // No volumes root yet (no volume ever made): nothing to sweep.
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const n of names) {
      if (!VOLUME_NAME_RE.test(n)) continue;
      // Gone since readdir: nothing to close.
      const st = await lstat(join(this.root, n)).catch(() => undefined);
      if (st?.isDirectory() && (st.mode & 0o7777) !== HOLDER_MODE)
        await chmod(join(this.root, n), HOLDER_MODE);
    }
    await Promise.all(
      names
        .filter((n) => n.startsWith('.removing-'))
        .map((n) => rm(join(this.root, n), { recursive: true, force: true })),
    );
  }
}

function checkName(name: string): void {
  if (!VOLUME_NAME_RE.test(name)) {
    throw new InvalidArgumentError(
      `volume: ${JSON.stringify(name)} is not a volume name (a letter or digit, then letters, digits, _ . -; at least 2 characters)`,
      { field: 'volume' },
    );
  }
}
