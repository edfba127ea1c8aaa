import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { FailedPreconditionError } from '../base/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/**
 * Resolves `path` inside `root` as if `root` were `/`: symlinks (absolute or
 * relative) are followed within the root, so an image whose /etc/passwd is a
 * link to `/host/secret` reads the rootfs copy, never the host's.
 */
export async function resolveInRoot(root: string, path: string, maxLinks = 40): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = posix.join(root, ...done, part);
    const st = await lstat(candidate).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > maxLinks)
        throw new FailedPreconditionError(`too many symlinks resolving ${path} in the rootfs`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

async function readRootFile(root: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(await resolveInRoot(root, path), 'utf8');
  } catch {
    return undefined;
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0] ?? '', uid, gid, home: f[5] || '/' });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0] ?? '', gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

/**
 * `uid[:gid]` or `name[:group]` resolved against the rootfs' /etc/passwd and
 * /etc/group, as runc's libcontainer/user does: a numeric uid need not exist
 * (its gid is then 0), a name must; supplementary groups come from /etc/group.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [userPart = '0', groupPart] = spec.split(':');
  const passwd = parsePasswd((await readRootFile(rootfs, '/etc/passwd')) ?? '');
  const groups = parseGroup((await readRootFile(rootfs, '/etc/group')) ?? '');
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNum(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw new FailedPreconditionError(
        `user: no user ${JSON.stringify(userPart)} in the image's /etc/passwd`,
      );
    }
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) {
    if (isNum(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g)
        throw new FailedPreconditionError(
          `user: no group ${JSON.stringify(groupPart)} in the image's /etc/group`,
        );
      gid = g.gid;
    }
  }
  const additionalGids = entry
    ? [...new Set(groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid))]
    : [];
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}
