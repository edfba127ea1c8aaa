import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

/**
 * Resolves a Docker-style user ("1000", "1000:1000", "nobody", "app:staff")
 * against the container's own /etc/passwd and /etc/group, since names mean
 * what the image says they mean, not what the host says.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<OciUser> {
  const [userPart = '', groupPart] = spec.split(':', 2);
  if (userPart === '') throw new InvalidArgumentError(`user: "${spec}" has no user`, { field: 'user' });
  const passwd = await readTable(join(rootfs, 'etc/passwd'));
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const row = passwd.find((r) => r[2] === userPart);
    if (row?.[3] !== undefined) gid = Number(row[3]);
  } else {
    const row = passwd.find((r) => r[0] === userPart);
    if (row?.[2] === undefined || row[3] === undefined) {
      throw new InvalidArgumentError(`user: "${userPart}" is not in the container's /etc/passwd`, {
        field: 'user',
      });
    }
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const groups = await readTable(join(rootfs, 'etc/group'));
      const row = groups.find((r) => r[0] === groupPart);
      if (row?.[2] === undefined) {
        throw new InvalidArgumentError(`user: group "${groupPart}" is not in the container's /etc/group`, {
          field: 'user',
        });
      }
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}

async function readTable(path: string): Promise<string[][]> {
  try {
    const text = await readFile(path, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    // No /etc/passwd or /etc/group in the image: names cannot resolve, numeric ids still do (the caller says which failed).
    return [];
  }
}
