import { FailedPreconditionError } from './errors.js';

/**
 * Schema versions of the JSON files berth persists (issue 13). Each file
 * carries `schemaVersion`; files written before versioning have none and are
 * version 1, the format they already had. A reader refuses a version newer
 * than it knows (an agent downgraded over a newer one's state): guessing at
 * a format could lose or corrupt what the file records.
 */

/** `obj` with `schemaVersion: version` first, for writing. */
export function stampVersion<T extends object>(obj: T, version: number): T & { schemaVersion: number } {
  // First in the file for a reader's eye; the version given wins over one `obj` carries.
  return Object.assign({ schemaVersion: version }, obj, { schemaVersion: version });
}

/**
 * The version of `obj` as read from `file`: 1 when it has no `schemaVersion`.
 * Throws FailedPreconditionError naming the file when the field is not a
 * positive integer, or when it is newer than `current` (both versions named).
 */
export function checkVersion(obj: unknown, opts: { file: string; current: number }): number {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new FailedPreconditionError(`${opts.file}: not a JSON object`);
  const v = (obj as { schemaVersion?: unknown }).schemaVersion;
  if (v === undefined) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new FailedPreconditionError(`${opts.file}: schemaVersion ${JSON.stringify(v)} is not a version`);
  if (v > opts.current)
    throw new FailedPreconditionError(
      `${opts.file}: schemaVersion ${v} is newer than this release reads (${opts.current}); written by a newer berth`,
    );
  return v;
}
