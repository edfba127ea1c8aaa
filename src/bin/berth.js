#!/usr/bin/env node
// The `berth` executable. It runs the compiled CLI from dist/ when a build is
// present and not older than the sources it came from (the fast path: no
// TypeScript at run time); otherwise it loads the TypeScript sources through
// tsx, so a fresh checkout works before `npm run build`.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// berth runs on Node.js >= 24 (package.json engines). src/bin/berth picks the
// Node in a fixed order; say that order when it found an older one.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `berth: needs Node.js >= 24, this is ${process.version} (${process.execPath}). ` +
      'The berth command looks for $BERTH_NODE, then ~/.cache/berth/node/current/bin/node ' +
      '(installed by `bash .ci/setup.sh run`), then node on PATH.\n',
  );
  process.exit(125);
}

// `berth agent` runs long, so it trades a re-exec (~40 ms, once) for V8 flags
// that keep its memory down; the short verbs never pay for it. The agent's
// young generation is capped at 1 MB semi-spaces (V8's default grows them to
// 16 MB each): −27 MB RSS idle, −20 to −47 MB at 200 containers, scrape CPU
// unchanged (sidecar/metrics/README.md, "Against cAdvisor"). Flags only work
// on the command line (v8.setFlagsFromString after start leaves the heap as
// it was), hence process.execve: same pid, so supervisors and the harness
// see one process. BERTH_AGENT_V8_FLAGS replaces the list ('' = none); a
// --max-semi-space-size already given to node wins.
const AGENT_V8_FLAGS = process.env.BERTH_AGENT_V8_FLAGS ?? '--max-semi-space-size=1';
const args = process.argv.slice(2);
const agentStart =
  args.find((a) => !a.startsWith('-')) === 'agent' && !args.includes('--help') && !args.includes('-h');
function agentFlags() {
  if (process.env.BERTH_AGENT_EXECED === '1') {
    delete process.env.BERTH_AGENT_EXECED; // this is the re-exec'd agent: not passed on to what it starts
    return [];
  }
  if (!agentStart) return [];
  if (process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) return [];
  return AGENT_V8_FLAGS.split(' ').filter((f) => f !== '');
}
const v8Flags = agentFlags();
if (v8Flags.length > 0 && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [
      process.execPath,
      ...process.execArgv,
      ...v8Flags,
      '--',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { ...process.env, BERTH_AGENT_EXECED: '1' },
  );
}

// V8's compiled code for every module loaded below, kept across runs: most of
// a CLI start is compiling the same files again. The directory is the
// invoking user's own (berth's cache under $BERTH_CACHE or ~/.cache), 0700,
// and used only when it is owned by that user and closed to others: the agent
// runs as root, and a cache another user can write is code root would run.
// Never a shared temp directory. BERTH_COMPILE_CACHE=0 turns it off.
//
// Not for `berth agent`: Node keeps the cache's buffers for the process's
// life (an idle agent: RSS 109 -> 101 MB without it), and the agent starts
// as fast without (2.0-2.4 s to ready either way, measured), as it starts
// once and its start is dominated by restoring state, not compiling.
function compileCacheDir() {
  if (process.env.BERTH_COMPILE_CACHE === '0' || agentStart) return undefined;
  const base = process.env.BERTH_CACHE || (process.env.HOME ? `${process.env.HOME}/.cache/berth` : '');
  if (!base.startsWith('/')) return undefined;
  const dir = `${base}/compile-cache`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (st.uid !== process.getuid() || (st.mode & 0o077) !== 0) return undefined;
    return dir;
  } catch {
    return undefined; // no cache is only slower
  }
}
const cacheDir = compileCacheDir();
if (cacheDir) module.enableCompileCache?.(cacheDir);

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
