import { writeFileAtomic as writeAtomic } from '../base/atomic-file.js';

/**
 * Replaces `file` with `data` so that a crash leaves either the old or the new
 * content, never a torn file (see runtime/base/atomic-file.ts). Keeps this
 * module's positional mode; `sync: false` is for files rebuilt on every use.
 */
export function writeFileAtomic(
  file: string,
  data: string,
  mode = 0o644,
  opts: { sync?: boolean } = {},
): Promise<void> {
  return writeAtomic(file, data, { mode, sync: opts.sync !== false });
}
