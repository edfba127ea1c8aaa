import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../runtime/base/atomic-file.js';
import { messageOf } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { checkVersion } from '../../runtime/base/versioned.js';
import type { ProjectRecord } from './types.js';

/**
 * Desired state per project: `<stateRoot>/projects/<name>.json`, written
 * atomically (temp file, fsync, rename), mode 0600 (it holds the environment
 * the project was interpolated with). One file per project so that a write
 * of one never risks another.
 */
export class ProjectStore {
  readonly dir: string;
  constructor(
    stateRoot: string,
    private readonly logger: Logger,
  ) {
    this.dir = join(stateRoot, 'projects');
  }

  private path(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  async save(rec: ProjectRecord): Promise<void> {
    await writeFileAtomic(this.path(rec.name), JSON.stringify(rec), { mode: 0o600, mkdir: true });
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { force: true });
  }

  /** Every stored project; a file that cannot be read is logged and skipped (its containers are left alone). */
  async list(): Promise<ProjectRecord[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    } catch {
      return [];
    }
    const out: ProjectRecord[] = [];
    for (const n of names.sort()) {
      const file = join(this.dir, n);
      try {
        const rec = JSON.parse(await readFile(file, 'utf8')) as ProjectRecord;
        checkVersion(rec, { file, current: 1 });
        out.push(rec);
      } catch (err) {
        this.logger.error(
          { file, err: messageOf(err) },
          'projects: a stored project cannot be read; left alone',
        );
      }
    }
    return out;
  }
}
