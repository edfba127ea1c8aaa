import { homedir } from 'node:os';
import { isAbsolute, posix, resolve } from 'node:path';
import type { NodeReader } from './reader.js';
import type { ComposeMount } from './types.js';
import type { YNode } from './yaml-tree.js';

const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'] as const;

/** Service `volumes:` in short (`src:dst[:opts]`) or long syntax; bind sources made absolute against `workingDir`. */
export function readMounts(r: NodeReader, node: YNode, path: string, workingDir: string): ComposeMount[] {
  return r.seq(node, path).items.map((item, i) => {
    const p = `${path}[${i}]`;
    return item.kind === 'map'
      ? readLongMount(r, item, p, workingDir)
      : parseShortMount(r, item, p, workingDir);
  });
}

/** Like compose-go: `.`, `/` and `~` start a host path; anything else names a volume. */
function isHostPath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~');
}

function hostPath(s: string, workingDir: string): string {
  if (s === '~' || s.startsWith('~/')) return resolve(homedir(), s.slice(2));
  return isAbsolute(s) ? resolve(s) : resolve(workingDir, s);
}

/** compose-go cleans a short-syntax container path (`/data/` and `/data/./x/..` are `/data`). */
function cleanTarget(t: string): string {
  return t.startsWith('/') ? posix.normalize(t).replace(/(.)\/$/, '$1') : t;
}

function parseShortMount(r: NodeReader, node: YNode, path: string, workingDir: string): ComposeMount {
  const raw = r.str(node, path);
  const parts = raw.split(':');
  if (parts.length > 3 || parts.some((p) => p === ''))
    r.fail(node, path, `"${raw}" is not a volume (src:dst[:opts])`);
  if (parts.length === 1) {
    // A container path alone: an anonymous volume.
    return { type: 'volume', target: cleanTarget(parts[0] ?? ''), readOnly: false, volume: {} };
  }
  const [src = '', rawTarget = '', opts = ''] = parts;
  const target = cleanTarget(rawTarget);
  if (!target.startsWith('/')) r.fail(node, path, `"${raw}": the container path "${target}" is not absolute`);
  const bind = isHostPath(src);
  const mount: ComposeMount = bind
    ? {
        type: 'bind',
        source: hostPath(src, workingDir),
        target,
        readOnly: false,
        bind: { createHostPath: true },
      }
    : { type: 'volume', source: src, target, readOnly: false, volume: {} };
  for (const opt of opts === '' ? [] : opts.split(',')) {
    if (opt === 'ro') mount.readOnly = true;
    else if (opt === 'rw') mount.readOnly = false;
    else if (bind && (opt === 'z' || opt === 'Z')) mount.bind = { ...mount.bind, selinux: opt };
    else if (bind && (PROPAGATION as readonly string[]).includes(opt))
      mount.bind = { ...mount.bind, propagation: opt };
    else if (!bind && opt === 'nocopy') mount.volume = { nocopy: true };
    else r.fail(node, path, `"${raw}": unknown volume option "${opt}"`);
  }
  return mount;
}

function readLongMount(r: NodeReader, node: YNode, path: string, workingDir: string): ComposeMount {
  const m = r.map(node, path);
  r.onlyKeys(m, path, ['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs']);
  const get = (k: string): YNode | undefined => m.entries.get(k)?.value;
  const typeNode = get('type');
  if (typeNode === undefined) return r.fail(node, path, 'a volume in long syntax needs "type"');
  const type = r.oneOf(typeNode, `${path}.type`, ['bind', 'volume', 'tmpfs'] as const);
  const targetNode = get('target');
  if (targetNode === undefined) return r.fail(node, path, 'a volume in long syntax needs "target"');
  const mount: ComposeMount = { type, target: r.str(targetNode, `${path}.target`), readOnly: false };
  const src = get('source');
  if (src !== undefined) {
    const s = r.str(src, `${path}.source`);
    if (type === 'tmpfs') r.fail(src, `${path}.source`, 'a tmpfs mount takes no source');
    mount.source = type === 'bind' ? hostPath(s, workingDir) : s;
  } else if (type === 'bind') r.fail(node, path, 'a bind mount needs "source"');
  const ro = get('read_only');
  if (ro !== undefined) mount.readOnly = r.bool(ro, `${path}.read_only`);
  const sub = (k: 'bind' | 'volume' | 'tmpfs'): ReturnType<NodeReader['map']> | undefined => {
    const n = get(k);
    if (n === undefined) return undefined;
    if (k !== type) r.fail(n, `${path}.${k}`, `"${k}" options on a ${type} mount`);
    return r.map(n, `${path}.${k}`);
  };
  const b = sub('bind');
  // Within a bind block create_host_path defaults to true (compose-go's default); a long-syntax
  // bind without the block leaves it out, so the host path must exist (short syntax implies it).
  if (b !== undefined) {
    r.onlyKeys(b, `${path}.bind`, ['propagation', 'create_host_path', 'selinux']);
    const bind: NonNullable<ComposeMount['bind']> = { createHostPath: true };
    for (const [k, e] of b.entries) {
      const kp = `${path}.bind.${k}`;
      if (k === 'propagation') bind.propagation = r.oneOf(e.value, kp, PROPAGATION);
      else if (k === 'create_host_path') bind.createHostPath = r.bool(e.value, kp);
      else bind.selinux = r.oneOf(e.value, kp, ['z', 'Z'] as const);
    }
    mount.bind = bind;
  }
  const v = sub('volume');
  if (v !== undefined) {
    r.onlyKeys(v, `${path}.volume`, ['nocopy', 'subpath']);
    mount.volume = {};
    for (const [k, e] of v.entries) {
      if (k === 'nocopy') mount.volume.nocopy = r.bool(e.value, `${path}.volume.nocopy`);
      else mount.volume.subpath = r.str(e.value, `${path}.volume.subpath`);
    }
  }
  const t = sub('tmpfs');
  if (t !== undefined) {
    r.onlyKeys(t, `${path}.tmpfs`, ['size', 'mode']);
    mount.tmpfs = {};
    for (const [k, e] of t.entries) {
      if (k === 'size') mount.tmpfs.size = r.bytes(e.value, `${path}.tmpfs.size`);
      else {
        // Modes are octal however YAML typed them (0755, "1777", 493).
        const n = e.value;
        const text =
          n.kind === 'scalar' && typeof n.value === 'number' ? n.source : r.str(n, `${path}.tmpfs.mode`);
        const mode = /^0?o?[0-7]+$/.test(text) ? Number.parseInt(text.replace(/^0o/, ''), 8) : Number.NaN;
        if (Number.isNaN(mode)) r.fail(n, `${path}.tmpfs.mode`, `"${text}" is not an octal mode`);
        mount.tmpfs.mode = mode;
      }
    }
  }
  return mount;
}
