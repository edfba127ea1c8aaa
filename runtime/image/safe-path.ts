import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './fsutil.js';

/** Thrown for an entry that would reach outside the root or through a non-directory. */
export class UnsafePathError extends Error {}

const MAX_SYMLINK_HOPS = 40;

/**
 * Entry names as components: no absolute names, no `..`, `.` and empty
 * components dropped. Throws UnsafePathError with the reason.
 */
export function entryComponents(name: string): string[] {
  if (name.includes('\0')) throw new UnsafePathError('the name contains a NUL byte');
  if (name.startsWith('/')) throw new UnsafePathError('absolute names are not allowed');
  const comps = name.split('/').filter((c) => c !== '' && c !== '.');
  if (comps.includes('..')) throw new UnsafePathError('".." components are not allowed');
  return comps;
}

/**
 * Resolves a directory path inside `root` one component at a time with
 * lstat, following symlinks only within the root: an absolute target is
 * taken relative to the root (as the container will see it), and a target
 * that climbs above the root is refused rather than clamped, because a layer
 * that writes through such a link is an attack, not an image. Missing
 * directories are created (0755) when `create` is set.
 *
 * Safe without openat because the root is a private temp dir that only this
 * extraction writes to, so nothing can swap a component between the check and
 * the use.
 */
export async function resolveDirInRoot(
  root: string,
  comps: readonly string[],
  create: boolean,
): Promise<string> {
  const stack: string[] = [];
  const queue = [...comps];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) throw new UnsafePathError('a symlink in its path leads outside the root');
      stack.pop();
      continue;
    }
    const p = join(root, ...stack, c);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(p);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      if (!create) throw new UnsafePathError(`${[...stack, c].join('/')} does not exist in this layer`);
      await mkdir(p, { mode: 0o755 });
      stack.push(c);
      continue;
    }
    if (st.isDirectory()) {
      stack.push(c);
    } else if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafePathError('too many levels of symbolic links');
      const target = await readlink(p);
      if (target.startsWith('/')) stack.length = 0;
      queue.unshift(...target.split('/'));
    } else {
      throw new UnsafePathError(`${[...stack, c].join('/')} is not a directory`);
    }
  }
  return join(root, ...stack);
}
