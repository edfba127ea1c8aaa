import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { berthCacheDir } from '../runtime/base/cache-dir.js';
import type { Tree } from './entries.js';

/**
 * The berth layer under /opt/berth: package.json (name, version, "type":
 * "module"), the compiled dist/ (agent, CLI, web page) and the production
 * node_modules, pruned of devDependencies by reading package-lock.json
 * (README.md says why not a second `npm ci`).
 */

export const APP = 'opt/berth';

/** Never needed at run time: docs, types, source maps, native sources and build leftovers. */
const DROP_FILE =
  /(\.md|\.markdown|\.d\.[cm]?ts|\.map|\.gypi?|\.cc|\.cpp|\.c|\.h|\.hpp|\.o|\.a|\.mk|\.tsbuildinfo)$|^llms.*\.txt$|^\.[^/]*$/i;
/** In a package with native code (binding.gyp): its C/C++ sources. */
const NATIVE_SOURCE_DIRS = new Set(['vendor', 'deps', 'src', 'scripts']);
/** A package's own tests, examples and docs (top level only: a lib/test/ may be code). */
const DROP_TOP_DIRS = new Set([
  'test',
  'tests',
  '__tests__',
  'example',
  'examples',
  'docs',
  'benchmark',
  'benchmarks',
]);
/**
 * Production dependencies nothing in dist/ imports at run time: esbuild only
 * bundles the web page (web/build.ts), which the image carries built in dist/web.
 */
const NOT_AT_RUN_TIME = /^node_modules\/(esbuild|@esbuild\/[^/]+)$/;
/** prebuilds/<platform>-<arch>/ of other platforms than this one. */
const OWN_PREBUILD = `linux-${process.arch}`;

/**
 * A native module without its debug symbols (re2.node is 23 MB with them,
 * a tenth without), kept under ~/.cache/berth/image/strip by content hash.
 */
function stripped(path: string): string {
  const cache = join(berthCacheDir(), 'image', 'strip');
  const sum = createHash('sha256').update(readFileSync(path)).digest('hex');
  const out = join(cache, `${sum}.node`);
  if (existsSync(out)) return out;
  try {
    mkdirSync(cache, { recursive: true });
    execFileSync('strip', ['--strip-unneeded', '-o', `${out}.tmp`, path], { stdio: 'ignore' });
    renameSync(`${out}.tmp`, out);
    return out;
  } catch {
    return path; // no binutils: the module as built, only larger
  }
}

interface LockPackage {
  dev?: boolean;
  link?: boolean;
}

/** The node_modules/… directories npm would install with --omit=dev, from package-lock.json v2/v3. */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    lockfileVersion?: number;
    packages?: Record<string, LockPackage>;
  };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new Error('image: package-lock.json has no "packages" (lockfileVersion 2 or 3 needed)');
  }
  return Object.entries(lock.packages)
    .filter(([key, p]) => key.startsWith('node_modules/') && p.dev !== true && p.link !== true)
    .filter(([key]) => !NOT_AT_RUN_TIME.test(key))
    .map(([key]) => key)
    .filter((key) => existsSync(join(root, key))) // optional packages for other platforms are absent
    .sort();
}

function walk(
  dir: string,
  visit: (path: string, name: string) => boolean,
  onFile: (path: string) => void,
): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (!visit(p, e.name)) continue;
    if (e.isDirectory()) walk(p, visit, onFile);
    else if (e.isFile()) onFile(p);
    // symlinks in a package (e.g. node_modules/.bin) are not needed to import it
  }
}

function mode(path: string): number {
  return statSync(path).mode & 0o111 ? 0o755 : 0o644;
}

/** Copies one package directory, its own nested node_modules left to their own lock entries. */
function addPackage(tree: Tree, root: string, pkgDir: string): void {
  const native = existsSync(join(pkgDir, 'binding.gyp'));
  walk(
    pkgDir,
    (path, name) => {
      const rel = relative(pkgDir, path);
      if (rel === 'node_modules' || DROP_TOP_DIRS.has(rel)) return false;
      if (/(^|\/)prebuilds\/[^/]+$/.test(rel) && !name.startsWith(OWN_PREBUILD)) return false;
      if (native && NATIVE_SOURCE_DIRS.has(rel)) return false;
      if (DROP_FILE.test(name) && !statSync(path).isDirectory()) return false;
      return true;
    },
    (path) => {
      const rel = relative(pkgDir, path);
      // build/ of a native package: only the compiled module (re2.node), not the objects beside it.
      if (native && rel.startsWith('build/') && !rel.endsWith('.node')) return;
      const source = path.endsWith('.node') ? stripped(path) : path;
      tree.add({ type: 'file', path: `${APP}/${relative(root, path)}`, mode: mode(path), source });
    },
  );
}

/** The launcher: `berth` on PATH runs the compiled CLI with the image's Node (`--` as src/bin/berth passes it). */
const LAUNCHER = `#!/usr/local/bin/node --
// berth in the image: the compiled CLI under /opt/berth/dist (no TypeScript, no sources to compare).
import { main } from '../dist/src/cli/main.js';
process.exitCode = await main(process.argv.slice(2));
`;

/** The first .ts under `trees` newer than `stamp` (or the stamp itself when missing): an image of stale code is refused. */
function newerThan(root: string, trees: string[], stamp: string): string | undefined {
  if (!existsSync(stamp)) return stamp;
  const built = statSync(stamp).mtimeMs;
  let found: string | undefined;
  for (const t of trees) {
    walk(
      join(root, t),
      () => found === undefined,
      (p) => {
        if (found === undefined && p.endsWith('.ts') && statSync(p).mtimeMs > built)
          found = relative(root, p);
      },
    );
  }
  return found;
}

/** Fills the berth layer. */
export function appLayer(tree: Tree, root: string, allowStale = false): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const slim = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    type: pkg.type,
  };
  tree.add({
    type: 'data',
    path: `${APP}/package.json`,
    mode: 0o644,
    data: Buffer.from(`${JSON.stringify(slim, null, 2)}\n`),
  });
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'src/cli/main.js')))
    throw new Error('image: dist/ is not built (npm run build)');
  if (!existsSync(join(dist, 'web/index.html')))
    throw new Error('image: dist/web is not built (npm run build:web)');
  const stale = newerThan(root, ['src', 'runtime', 'sidecar'], join(dist, '.build-stamp'));
  if (stale && !allowStale) throw new Error(`image: dist/ is older than ${stale} (npm run build)`);
  walk(
    dist,
    // dist/image is this build's own output (dist/runtime/image is code and stays).
    (path, name) => !(DROP_FILE.test(name) && !statSync(path).isDirectory()) && path !== join(dist, 'image'),
    (path) => tree.add({ type: 'file', path: `${APP}/${relative(root, path)}`, mode: 0o644, source: path }),
  );
  for (const key of productionPackages(root)) addPackage(tree, root, join(root, key));
  tree.add({ type: 'data', path: `${APP}/bin/berth.js`, mode: 0o755, data: Buffer.from(LAUNCHER) });
  tree.add({ type: 'symlink', path: 'usr/local/bin/berth', target: `../../../${APP}/bin/berth.js` });
}
