#!/usr/bin/env node
// The `berth` executable. It runs the compiled CLI from dist/ when a build is
// present and not older than the sources it came from (the fast path: no
// TypeScript at run time); otherwise it loads the TypeScript sources through
// tsx, so a fresh checkout works before `npm run build`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const built = `${root}dist/src/cli/main.js`;
const stamp = `${root}dist/.build-stamp`;
const src = `${root}src/cli/main.ts`;

// .ci/setup.sh rebuilds dist/ and rewrites the stamp whenever a source is
// newer than it; BERTH_FROM_SOURCE=1 forces the sources (npm run berth). A
// source edited after the build also falls back to the sources, so a stale
// dist/ never runs. Only `berth agent` loads runtime/ and sidecar/; every
// other verb loads src/ alone, so only src/ is checked for them (27 files,
// 0.4 ms, instead of 160 files and 2.4 ms before every `berth run`).
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}
function fresh() {
  if (process.env.BERTH_FROM_SOURCE === '1' || !existsSync(built) || !existsSync(stamp)) return false;
  if (process.env.BERTH_FROM_SOURCE === '0') return true; // dist/ even if older (benchmarks while editing)
  const built_at = statSync(stamp).mtimeMs;
  const trees = process.argv.includes('agent') ? ['src', 'runtime', 'sidecar'] : ['src'];
  return trees.every((d) => newestSource(`${root}${d}`) <= built_at);
}

let mod;
if (fresh()) {
  mod = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(src).href);
}
process.exitCode = await mod.main(process.argv.slice(2));
