import { execFile } from 'node:child_process';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { setAttribute } from '@napi-rs/xattr';
import tar, { type Header as TarHeader } from 'tar-stream';
import { InvalidArgumentError } from '../base/errors.js';
import { isErrno } from './fsutil.js';
import { entryComponents, resolveDirInRoot, UnsafePathError } from './safe-path.js';

const run = promisify(execFile);

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** xattrs a layer may carry; `trusted.overlay.*` would let a layer steer overlayfs itself. */
const ALLOWED_XATTR = /^(user\.|security\.capability$)/;

export interface ExtractOptions {
  /** Names the layer in errors (`layer sha256:…`). */
  label: string;
  /** Called for xattrs that could not be applied (non-fatal). */
  onWarning?: (msg: string) => void;
  /** Most entries the layer may have (imageMaxLayerEntries); one more fails it. */
  maxEntries?: number;
}

type Header = Omit<TarHeader, 'pax'> & { pax?: Record<string, string> | null };
type Body = AsyncIterable<Uint8Array> & { resume(): unknown };

/**
 * Unpacks one layer tar into `root` (an empty private directory) as an
 * overlayfs lower layer: whiteouts (`.wh.name`) become 0/0 character devices
 * and opaque markers (`.wh..wh..opq`) the `trusted.overlay.opaque=y` xattr on
 * their directory. Hostile input is refused with an InvalidArgumentError that
 * names the entry and the reason; the caller removes `root` on failure.
 * Preserves modes, owners, mtimes, symlinks, hardlinks, fifos and user xattrs;
 * refuses device nodes.
 */
export async function extractLayer(
  source: Readable,
  root: string,
  opts: ExtractOptions,
): Promise<{ entries: number }> {
  const ex = tar.extract();
  const dirTimes: Array<[string, Date]> = [];
  let entries = 0;
  const feeding = pipeline(source, ex as unknown as NodeJS.WritableStream);
  // Surface the feeding side's errors (e.g. a corrupt gzip) through the loop below.
  feeding.catch((err: unknown) => ex.destroy(err instanceof Error ? err : new Error(String(err))));
  const maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  for await (const entry of ex) {
    const h = entry.header as Header;
    if (entries >= maxEntries) {
      entry.resume();
      throw new InvalidArgumentError(
        `${opts.label}: has more than ${maxEntries} entries (imageMaxLayerEntries)`,
        {
          field: 'layer',
        },
      );
    }
    try {
      await extractEntry(root, h, entry as unknown as Body, dirTimes, opts);
    } catch (err) {
      entry.resume();
      if (err instanceof UnsafePathError) throw refuse(opts.label, h.name, err.message);
      throw err;
    }
    entry.resume();
    entries++;
  }
  await feeding;
  // Directory mtimes last: creating their children changed them.
  dirTimes.sort((a, b) => b[0].length - a[0].length);
  for (const [p, t] of dirTimes) {
    try {
      await lutimes(p, t, t);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  return { entries };
}

function refuse(label: string, name: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${label}: entry ${JSON.stringify(name)} refused: ${reason}`, {
    field: 'layer',
  });
}

async function extractEntry(
  root: string,
  h: Header,
  body: Body,
  dirTimes: Array<[string, Date]>,
  opts: ExtractOptions,
): Promise<void> {
  const comps = entryComponents(h.name);
  const type = h.type ?? 'file';
  if (comps.length === 0) {
    // `./` itself: only a directory may describe the root.
    if (type !== 'directory') throw new UnsafePathError('the root of a layer must be a directory');
    await applyMeta(root, h, false, opts);
    if (h.mtime) dirTimes.push([root, h.mtime]);
    return;
  }
  const base = comps[comps.length - 1] as string;
  const parent = await resolveDirInRoot(root, comps.slice(0, -1), true);

  if (base.startsWith(WHITEOUT)) {
    if (base === OPAQUE) {
      await setAttribute(parent, 'trusted.overlay.opaque', 'y');
      return;
    }
    // Other `.wh..wh.` names are aufs bookkeeping with no meaning for overlayfs.
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return;
    const hidden = base.slice(WHITEOUT.length);
    if (hidden === '' || hidden === '.' || hidden === '..')
      throw new UnsafePathError('malformed whiteout name');
    const target = join(parent, hidden);
    await rm(target, { recursive: true, force: true });
    await run('mknod', [target, 'c', '0', '0']);
    return;
  }

  const target = join(parent, base);
  const existing = await lstatOrNull(target);
  switch (type) {
    case 'directory': {
      if (!existing?.isDirectory()) {
        if (existing) await rm(target, { recursive: true, force: true });
        await mkdir(target, { mode: 0o700 });
      }
      await applyMeta(target, h, false, opts);
      if (h.mtime) dirTimes.push([target, h.mtime]);
      return;
    }
    case 'file':
    case 'contiguous-file': {
      if (existing) await rm(target, { recursive: true, force: true });
      // 'wx' is O_CREAT|O_EXCL: never follows a symlink planted at the name.
      const fh = await open(target, 'wx', 0o600);
      try {
        for await (const chunk of body) await fh.write(chunk);
      } finally {
        await fh.close();
      }
      await applyMeta(target, h, false, opts);
      await lutimes(target, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
      return;
    }
    case 'symlink': {
      const dest = h.linkname ?? '';
      if (dest === '' || dest.includes('\0'))
        throw new UnsafePathError('symlink with an empty or invalid target');
      if (existing) await rm(target, { recursive: true, force: true });
      await symlink(dest, target);
      await applyMeta(target, h, true, opts);
      await lutimes(target, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
      return;
    }
    case 'link': {
      const srcComps = entryComponents(h.linkname ?? '');
      if (srcComps.length === 0) throw new UnsafePathError('hardlink to the layer root');
      let srcParent: string;
      try {
        srcParent = await resolveDirInRoot(root, srcComps.slice(0, -1), false);
      } catch (err) {
        if (err instanceof UnsafePathError)
          throw new UnsafePathError(`hardlink target ${JSON.stringify(h.linkname)}: ${err.message}`);
        throw err;
      }
      const src = join(srcParent, srcComps[srcComps.length - 1] as string);
      const st = await lstatOrNull(src);
      if (!st)
        throw new UnsafePathError(
          `hardlink target ${JSON.stringify(h.linkname)} does not exist in this layer`,
        );
      if (st.isDirectory())
        throw new UnsafePathError(`hardlink target ${JSON.stringify(h.linkname)} is a directory`);
      if (src === target) return;
      if (existing) await rm(target, { recursive: true, force: true });
      // link(2) does not follow a symlink source: the link is to the symlink itself.
      await link(src, target);
      return;
    }
    case 'fifo': {
      if (existing) await rm(target, { recursive: true, force: true });
      await run('mkfifo', ['-m', '600', target]);
      await applyMeta(target, h, false, opts);
      await lutimes(target, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
      return;
    }
    case 'character-device':
    case 'block-device':
      throw new UnsafePathError(
        `device nodes are not allowed in image layers (${type} ${h.devmajor ?? 0}:${h.devminor ?? 0}); containers get /dev from the runtime`,
      );
    default:
      throw new UnsafePathError(`unsupported tar entry type ${type}`);
  }
}

async function lstatOrNull(p: string): Promise<Awaited<ReturnType<typeof lstat>> | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

async function applyMeta(p: string, h: Header, isSymlink: boolean, opts: ExtractOptions): Promise<void> {
  await lchown(p, h.uid ?? 0, h.gid ?? 0);
  // After chown, which clears setuid/setgid bits.
  if (!isSymlink) await chmod(p, (h.mode ?? 0o644) & 0o7777);
  for (const [key, value] of Object.entries(h.pax ?? {})) {
    if (!key.startsWith('SCHILY.xattr.')) continue;
    const name = key.slice('SCHILY.xattr.'.length);
    if (!ALLOWED_XATTR.test(name) || isSymlink) {
      opts.onWarning?.(`${opts.label}: ${h.name}: xattr ${name} skipped`);
      continue;
    }
    try {
      await setAttribute(p, name, Buffer.from(value, 'utf8'));
    } catch (err) {
      opts.onWarning?.(`${opts.label}: ${h.name}: xattr ${name} not applied: ${(err as Error).message}`);
    }
  }
}
