import { readdirSync, readFileSync, statSync } from 'node:fs';
import { InternalError } from '../../src/common/errors.js';

/** True for the errors that mean "this file or directory is not there (any more)". */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // ESRCH/ENODEV: reading a /proc/<pid> file of a process that just exited.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH' || code === 'ENODEV';
}

/*
 * Reads are synchronous on purpose. cgroupfs, procfs and sysfs files are
 * generated in memory by the kernel on read and never wait for a disk: a sync
 * read of one costs ~10-30 µs, while fs.promises.readFile costs ~150-200 µs
 * (a threadpool hop per open/fstat/read/close). For 100 containers × 15 files
 * that is ~40 ms instead of ~1 s per scrape. The collector yields to the event
 * loop between containers, so no single block lasts longer than one
 * container's reads (well under a millisecond). The functions stay async so
 * callers do not change if a root ever points at a slow filesystem.
 */

/** File contents, or undefined when the file does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export async function dirExists(path: string): Promise<boolean> {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Entries of a directory, or undefined when it does not exist. */
export async function listOptional(path: string): Promise<string[] | undefined> {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events) into a map. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = Number(line.slice(sp + 1).trim());
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

/** A single number (memory.usage_in_bytes); `max` maps to Infinity (v2 limits). */
export function parseSingle(text: string, file: string): number {
  const s = text.trim();
  if (s === 'max') return Number.POSITIVE_INFINITY;
  const v = Number(s);
  if (s === '' || !Number.isFinite(v))
    throw new InternalError(`${file}: ${JSON.stringify(s)} is not a number`);
  return v;
}
