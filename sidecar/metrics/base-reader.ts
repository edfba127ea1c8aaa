import { join } from 'node:path';
import { NotFoundError } from '../../runtime/base/errors.js';
import { dirExists, parseFlatKeyed, parseSingle, readOptionalSync } from './fsread.js';
import type { OpenFiles } from './open-files.js';

/**
 * File access shared by both readers: each read records the files that were
 * missing, and a read that finds nothing re-checks whether the cgroup itself
 * is gone, so "container vanished" and "file not provided" stay distinct.
 */
export class CgroupFiles {
  readonly missing: string[] = [];
  private anyRead = false;
  /** Joined `<controller dir><cgroup path>/` per controller: path.join costs more than the read's bookkeeping. */
  private readonly prefixes = new Map<string, string>();

  /** `files`: kept-open cgroup files (see open-files.ts); without it every read opens the file anew. */
  constructor(
    private readonly cgroupPath: string,
    private readonly files?: OpenFiles,
  ) {}

  // Synchronous (the reads are, see fsread.ts): an await per file was ~40,000 microtasks a scrape.
  text(dir: string | undefined, file: string): string | undefined {
    if (dir === undefined) {
      this.missing.push(file);
      return undefined;
    }
    let prefix = this.prefixes.get(dir);
    if (prefix === undefined) {
      prefix = `${joinUnder(dir, this.cgroupPath)}/`;
      this.prefixes.set(dir, prefix);
    }
    const text = this.files
      ? this.files.read(dir, prefix + file, this.cgroupPath)
      : readOptionalSync(prefix + file);
    if (text === undefined) this.missing.push(file);
    else this.anyRead = true;
    return text;
  }

  number(dir: string | undefined, file: string): number | undefined {
    const text = this.text(dir, file);
    return text === undefined ? undefined : parseSingle(text, file);
  }

  keyed(dir: string | undefined, file: string): Map<string, number> | undefined {
    const text = this.text(dir, file);
    return text === undefined ? undefined : parseFlatKeyed(text);
  }

  /**
   * When nothing at all could be read, tell a vanished cgroup (NotFoundError)
   * from a controller that is merely not enabled for it (all files missing).
   */
  async finish<T>(stats: T, dirs: readonly (string | undefined)[]): Promise<{ stats: T; missing: string[] }> {
    if (!this.anyRead && this.missing.length > 0) {
      let exists = false;
      for (const dir of dirs) {
        if (dir !== undefined && (await dirExists(join(dir, this.cgroupPath)))) exists = true;
      }
      if (!exists) throw new NotFoundError(`cgroup ${this.cgroupPath} does not exist (container gone)`);
    }
    return { stats, missing: this.missing };
  }
}

/**
 * `dir` + `path` as path.join would give it, without its normalising pass
 * for the usual case (`/berth/<id>` under a controller mount), which is
 * already normal: ~6,000 joins a scrape at 1,000 containers.
 */
export function joinUnder(dir: string, path: string): string {
  const full = dir + path;
  if (path.startsWith('/') && !full.endsWith('/') && !NOT_NORMAL.test(full)) return full;
  return join(dir, path);
}

/** `//`, `/./`, `/../` anywhere, or a trailing `/.` or `/..`. */
const NOT_NORMAL = /\/\.{0,2}(\/|$)/;

/** `max`/huge limits are reported as 0 (unlimited), as cAdvisor does. */
export function limitValue(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  return !Number.isFinite(v) || v > 1e18 ? 0 : v;
}

export function ns(v: number | undefined): number | undefined {
  return v === undefined ? undefined : v / 1e9;
}

export function us(v: number | undefined): number | undefined {
  return v === undefined ? undefined : v / 1e6;
}
