import { join } from 'node:path';
import { NotFoundError } from '../../src/common/errors.js';
import { dirExists, parseFlatKeyed, parseSingle, readOptional } from './fsread.js';

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

  constructor(private readonly cgroupPath: string) {}

  async text(dir: string | undefined, file: string): Promise<string | undefined> {
    if (dir === undefined) {
      this.missing.push(file);
      return undefined;
    }
    let prefix = this.prefixes.get(dir);
    if (prefix === undefined) {
      prefix = `${join(dir, this.cgroupPath)}/`;
      this.prefixes.set(dir, prefix);
    }
    const text = await readOptional(prefix + file);
    if (text === undefined) this.missing.push(file);
    else this.anyRead = true;
    return text;
  }

  async number(dir: string | undefined, file: string): Promise<number | undefined> {
    const text = await this.text(dir, file);
    return text === undefined ? undefined : parseSingle(text, file);
  }

  async keyed(dir: string | undefined, file: string): Promise<Map<string, number> | undefined> {
    const text = await this.text(dir, file);
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
