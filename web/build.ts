/**
 * Builds the dashboard: esbuild bundles web/src/main.ts (uPlot and the CSS
 * included) into dist/web/{index.html, app.js, app.css}, minified, with no
 * runtime dependency on any network. Skipped when dist/web is newer than
 * every input (web/, uplot's package.json, this script); `--force` builds
 * anyway. The new tree replaces the old one by rename, so an agent serving
 * dist/web never sees half a build. Prints the sizes (raw and gzipped).
 *
 *   src/bin/berth-node --import tsx web/build.ts [--force] [--quiet]
 */
import { readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const WEB = import.meta.dirname;
const ROOT = resolve(WEB, '..');
const DEFAULT_OUT = join(ROOT, 'dist/web');
const STAMP = join(DEFAULT_OUT, '.build-stamp');

/** The newest modification time under `p` (files and folders). */
function newest(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const name of readdirSync(p)) m = Math.max(m, newest(join(p, name)));
  return m;
}

function upToDate(): boolean {
  let built: number;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  const inputs = [
    WEB,
    join(ROOT, 'node_modules/uplot/package.json'),
    join(ROOT, 'node_modules/esbuild/package.json'),
  ];
  return inputs.every((p) => newest(p) <= built);
}

/**
 * Builds into `outDir` (default dist/web, skipped there when up to date);
 * tests build into a temp dir of their own so parallel files never race on
 * dist/web.
 */
export async function buildWeb(
  opts: { force?: boolean; quiet?: boolean; outDir?: string } = {},
): Promise<{ built: boolean; outDir: string; sizes: Record<string, { raw: number; gzip: number }> }> {
  const OUT = opts.outDir ?? DEFAULT_OUT;
  if (!opts.force && !opts.outDir && upToDate())
    return { built: false, outDir: OUT, sizes: await sizes(OUT) };
  const tmp = `${OUT}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await build({
    entryPoints: { app: join(WEB, 'src/main.ts') },
    outdir: tmp,
    bundle: true,
    minify: true,
    format: 'esm',
    // Debian's Chromium and any browser of the last few years; no polyfills.
    target: ['chrome110', 'firefox115', 'safari16'],
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: opts.quiet ? 'warning' : 'info',
    tsconfig: join(WEB, 'tsconfig.json'),
  });
  await copyFile(join(WEB, 'index.html'), join(tmp, 'index.html'));
  await writeFile(join(tmp, '.build-stamp'), `${new Date().toISOString()}\n`);
  const old = `${OUT}.old-${process.pid}`;
  await mkdir(dirname(OUT), { recursive: true });
  await rename(OUT, old).catch(() => undefined);
  await rename(tmp, OUT);
  await rm(old, { recursive: true, force: true });
  return { built: true, outDir: OUT, sizes: await sizes(OUT) };
}

async function sizes(OUT: string): Promise<Record<string, { raw: number; gzip: number }>> {
  const out: Record<string, { raw: number; gzip: number }> = {};
  for (const f of ['index.html', 'app.js', 'app.css']) {
    const b = await readFile(join(OUT, f)).catch(() => undefined);
    if (b) out[f] = { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const force = process.argv.includes('--force');
  const quiet = process.argv.includes('--quiet');
  const r = await buildWeb({ force, quiet });
  const total = Object.values(r.sizes).reduce((a, s) => a + s.gzip, 0);
  const list = Object.entries(r.sizes)
    .map(([f, s]) => `${f} ${(s.raw / 1024).toFixed(1)} KiB (${(s.gzip / 1024).toFixed(1)} KiB gzipped)`)
    .join(', ');
  if (!quiet || r.built)
    console.log(
      `web: ${r.built ? 'built' : 'up to date'} dist/web: ${list}; ${(total / 1024).toFixed(1)} KiB gzipped in all`,
    );
}
