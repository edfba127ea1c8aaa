/**
 * CLI start-up: what every `berth` verb pays before it talks to the agent.
 * `berth --version` through the installed launcher (src/bin/berth: find the
 * Node, drop NODE_EXTRA_CA_CERTS, load the compiled CLI) against its floor,
 * a bare `node -e 0` of the same Node, interleaved N times. Also with the
 * module compile cache off (BERTH_COMPILE_CACHE=0), and both references with
 * NODE_EXTRA_CA_CERTS set to the system bundle, as on machines that set it:
 * the launcher drops it for the CLI, a bare node pays it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { median, round, timeMs } from './_stats.js';

export const description = 'CLI start: berth --version via the launcher vs bare node -e 0 (ms, medians)';

const ROOT = resolve(import.meta.dirname, '../..');
const LAUNCHER = resolve(ROOT, 'src/bin/berth');
const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function spawnOk(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.once('error', rej);
    c.once('close', (code) =>
      code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')}: ${code} ${err}`)),
    );
  });
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Math.min(Number(args[0] ?? 30), 200);
  if (!existsSync(resolve(ROOT, 'dist/.build-stamp')))
    throw new Error('dist/ is not built: run `npm run build` (or .ci/setup.sh) first');
  const base: NodeJS.ProcessEnv = { ...process.env, BERTH_FROM_SOURCE: '0' };
  delete base.NODE_EXTRA_CA_CERTS;
  const withCa = { ...base, NODE_EXTRA_CA_CERTS: BUNDLE };
  const cases: Record<string, () => Promise<void>> = {
    berth_ms: () => spawnOk(LAUNCHER, ['--version'], base),
    berth_no_compile_cache_ms: () => spawnOk(LAUNCHER, ['--version'], { ...base, BERTH_COMPILE_CACHE: '0' }),
    berth_with_extra_ca_ms: () => spawnOk(LAUNCHER, ['--version'], withCa),
    node_ms: () => spawnOk(process.execPath, ['-e', '0'], base),
    node_with_extra_ca_ms: () => spawnOk(process.execPath, ['-e', '0'], withCa),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up: page cache, compile cache
  const deadline = Date.now() + 5 * 60_000;
  for (let i = 0; i < n && Date.now() < deadline; i++) {
    for (const [k, fn] of Object.entries(cases)) times[k]?.push(await timeMs(fn));
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v), 1)]));
  return {
    runs: times.berth_ms?.length ?? 0,
    ...med,
    // berth's own share of a CLI start above a bare node of the same version.
    berth_over_node_ms: round((med.berth_ms ?? 0) - (med.node_ms ?? 0), 1),
    ratio_vs_node: round((med.berth_ms ?? 0) / (med.node_ms ?? 1), 2),
  };
}
