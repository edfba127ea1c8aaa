import { randomBytes } from 'node:crypto';
import { parseSize } from '../base/size.js';
import { VOLUME_NAME_RE } from '../volumes/types.js';
import { bad } from './fields.js';
import { isAbsoluteClean } from './parse.js';
import type { RawMount } from './types.js';

const TMPFS_FLAGS = new Set([
  'ro',
  'rw',
  'exec',
  'noexec',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'atime',
  'noatime',
  'relatime',
  'strictatime',
  'nodiratime',
]);
const TMPFS_KEYED = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks']);

/**
 * `-v` notation: `/host:/ctr[:ro|rw]` is a bind, `name:/ctr[:ro|rw]` a named
 * volume, a lone `/ctr` an anonymous volume.
 */
export function parseVolume(v: string, field: string): RawMount {
  const parts = v.split(':');
  if (parts.length === 1) {
    // `-v /data`: an anonymous volume, named now so every start mounts the same one.
    const destination = parts[0] ?? '';
    if (!isAbsoluteClean(destination))
      throw bad(field, `destination ${JSON.stringify(destination)} must be an absolute path`);
    return {
      kind: 'volume',
      name: randomBytes(32).toString('hex'),
      destination,
      readOnly: false,
      anonymous: true,
    };
  }
  if (parts.length > 3) throw bad(field, `must be SOURCE:DESTINATION[:ro|rw], got ${JSON.stringify(v)}`);
  const [source = '', destination = '', mode] = parts;
  if (!isAbsoluteClean(destination) || destination === '/') {
    throw bad(field, `destination ${JSON.stringify(destination)} must be an absolute path other than /`);
  }
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
    throw bad(field, `mode ${JSON.stringify(mode)} must be ro or rw`);
  }
  const readOnly = mode === 'ro';
  if (source.startsWith('/')) {
    if (!isAbsoluteClean(source))
      throw bad(field, `source ${JSON.stringify(source)} must be a clean absolute path`);
    return { kind: 'bind', source, destination, readOnly };
  }
  if (!VOLUME_NAME_RE.test(source)) {
    throw bad(
      field,
      `source ${JSON.stringify(source)} is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)`,
    );
  }
  return { kind: 'volume', name: source, destination, readOnly };
}

/** `--tmpfs /dst[:opts]` with Docker's `noexec,nosuid,nodev` defaults, each undone by its opposite. */
export function parseTmpfs(v: string, field: string): RawMount {
  const colon = v.indexOf(':');
  const destination = colon < 0 ? v : v.slice(0, colon);
  if (!isAbsoluteClean(destination) || destination === '/') {
    throw bad(field, `destination ${JSON.stringify(destination)} must be an absolute path other than /`);
  }
  const opts =
    colon < 0
      ? []
      : v
          .slice(colon + 1)
          .split(',')
          .filter((o) => o !== '');
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 ? !TMPFS_FLAGS.has(key) : !TMPFS_KEYED.has(key)) {
      throw bad(field, `unknown tmpfs option ${JSON.stringify(o)}`);
    }
    if (key === 'size') parseSize(o.slice(eq + 1), field);
    if (key === 'mode' && !/^[0-7]{3,4}$/.test(o.slice(eq + 1)))
      throw bad(field, `mode ${JSON.stringify(o.slice(eq + 1))} must be octal (e.g. 1777)`);
  }
  // Docker's defaults, each overridable by its opposite.
  const opposite: Record<string, string> = { noexec: 'exec', nosuid: 'suid', nodev: 'dev' };
  const defaults = Object.entries(opposite)
    .filter(([, o]) => !opts.includes(o))
    .map(([d]) => d);
  const options = [
    ...defaults,
    ...opts.filter((o) => !Object.values(opposite).includes(o) && !defaults.includes(o)),
  ];
  return { kind: 'tmpfs', destination, options };
}
