import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import type { Tree } from './entries.js';

/**
 * The base layer: a merged-/usr Debian skeleton, Node.js, runc, crun, conmon
 * and HAProxy, the shared libraries they load, and the few /etc files a
 * process expects. The binaries are the host's own Debian packages (installed
 * by .ci/setup.sh); their libraries are found with ldd, so the image holds
 * exactly what they load and nothing else (README.md says why not .debs).
 */

/** Host binaries that go into the image at the same path, if the host has them (crun is optional). */
export const BINARIES = [
  // /bin/sh: the agent finds runc, conmon and HAProxy with `sh -c 'command -v …'` (src/agent/compose.ts).
  { name: 'dash', required: true },
  { name: 'runc', required: true },
  { name: 'conmon', required: true },
  { name: 'haproxy', required: true },
  { name: 'crun', required: false },
  // The agent checks for ip at start (src/agent/compose.ts) and sets up its bridge with ip and iptables.
  { name: 'ip', required: true },
  { name: 'iptables', required: true },
];

/** Debian's merged /usr: /lib → usr/lib and so on, as in debian:12. */
const MERGED = ['bin', 'sbin', 'lib', 'lib64'];

/** /lib/x/y → usr/lib/x/y: where a path lives once the merged-/usr links are followed. */
export function canonical(path: string): string {
  const rel = posix.normalize(path).replace(/^\/+/, '');
  const top = rel.split('/')[0] ?? '';
  return MERGED.includes(top) ? `usr/${rel}` : rel;
}

/** The libraries ldd says `binary` loads, the dynamic loader included (absolute host paths). */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.push(m[1]);
    else if (/not found/.test(line))
      throw new Error(`image: ${binary} needs ${line.trim()}, missing on this host`);
  }
  return libs;
}

/** A host file at its canonical path, and a symlink from the path it was named by when that differs. */
export function addHostFile(tree: Tree, named: string, mode = 0o755): void {
  const real = realpathSync(named);
  const at = canonical(real);
  tree.add({ type: 'file', path: at, mode, source: real });
  const alias = canonical(named);
  if (alias !== at && !tree.has(alias)) {
    tree.add({ type: 'symlink', path: alias, target: posix.relative(posix.dirname(`/${alias}`), `/${at}`) });
  }
}

/** A binary's libraries (the binary itself too unless `skipSelf`); returns the host paths taken. */
export function addWithLibraries(tree: Tree, binary: string, skipSelf = false): string[] {
  if (!skipSelf) addHostFile(tree, binary);
  const libs = sharedLibraries(binary);
  for (const lib of libs) addHostFile(tree, lib);
  return skipSelf ? libs : [binary, ...libs];
}

function which(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

const PASSWD =
  'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
// glibc ≥ 2.34 has files and dns built in; the file makes the order explicit.
const NSSWITCH = 'passwd: files\ngroup: files\nhosts: files dns\n';
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

/** Fills the base layer; returns the host paths of the binaries and libraries it took (for the packages list). */
export function baseLayer(tree: Tree, nodeBinary: string): string[] {
  for (const top of MERGED) tree.add({ type: 'symlink', path: top, target: `usr/${top}` });
  tree.add({ type: 'file', path: 'usr/local/bin/node', mode: 0o755, source: realpathSync(nodeBinary) });
  const taken = addWithLibraries(tree, nodeBinary, true);
  for (const b of BINARIES) {
    const path = which(b.name);
    if (path === undefined) {
      if (b.required)
        throw new Error(`image: ${b.name} is not installed (bash .ci/setup.sh run installs it)`);
      continue;
    }
    taken.push(...addWithLibraries(tree, path));
  }
  tree.add({ type: 'symlink', path: 'usr/bin/sh', target: 'dash' });
  // iptables loads its match and target extensions with dlopen, which ldd does not see.
  const libc = taken.find((p) => p.endsWith('/libc.so.6'));
  const xtables = `${posix.dirname(realpathSync(libc ?? '/usr/lib/libc.so.6'))}/xtables`;
  if (existsSync(xtables)) {
    for (const name of readdirSync(xtables).sort()) {
      const ext = `${xtables}/${name}`;
      addHostFile(tree, ext, 0o644);
      taken.push(ext);
    }
  }
  const text = (path: string, data: string, mode = 0o644): void =>
    tree.add({ type: 'data', path, mode, data: Buffer.from(data) });
  text('etc/passwd', PASSWD);
  text('etc/group', GROUP);
  text('etc/nsswitch.conf', NSSWITCH);
  text('etc/hosts', HOSTS);
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(bundle)) throw new Error(`image: ${bundle} is missing (Debian's ca-certificates)`);
  tree.add({ type: 'file', path: bundle, mode: 0o644, source: bundle });
  tree.add({ type: 'dir', path: 'tmp', mode: 0o1777 });
  tree.add({ type: 'dir', path: 'root', mode: 0o700 });
  for (const dir of ['var/lib/berth', 'run/berth', 'var/log'])
    tree.add({ type: 'dir', path: dir, mode: 0o755 });
  return taken;
}

/** `package version` lines of the Debian packages that own these host files (a record of what the image holds). */
export function debianPackages(paths: string[]): string {
  const names = new Set<string>();
  // dpkg knows a file by the name its package shipped it under: /lib/…, /usr/lib/…, or the versioned file.
  const asShipped = new Set(paths.flatMap((p) => [p, realpathSync(p), `/${canonical(p)}`]));
  // One call: dpkg-query exits 1 when some name is unknown but still lists the ones it knows.
  const out = spawnSync('dpkg-query', ['-S', ...asShipped], { encoding: 'utf8' }).stdout ?? '';
  for (const line of out.split('\n')) {
    const pkg = line.split(':')[0]?.trim();
    if (pkg && !pkg.startsWith('diversion')) names.add(pkg);
  }
  if (names.size === 0) return '';
  // dpkg-query's own ${field} syntax, not a template.
  const format = ['$', '{Package} $', '{Version}\n'].join('');
  return execFileSync('dpkg-query', ['-W', '-f', format, ...[...names].sort()], {
    encoding: 'utf8',
  });
}
