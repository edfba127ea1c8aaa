/**
 * `npm run bench` lists the benchmarks; `npm run bench -- NAME [args]` runs
 * test/bench/NAME.ts and prints its result as ONE JSON object on the last
 * line (progress and notes go to stderr). A benchmark module exports
 * `run(args: string[]): Promise<Record<string, unknown>>` and, where it has a
 * reference (bare runc, podman, dnsmasq, a raw pipe), measures it in the same
 * run and reports the ratio.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchModule {
  /** One line shown by `npm run bench`. */
  description?: string;
  run(args: string[]): Promise<Record<string, unknown>>;
}

const dir = fileURLToPath(new URL('.', import.meta.url));

export function listBenchmarks(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'run.ts' && !f.startsWith('_'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const names = listBenchmarks();
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write('usage: npm run bench -- NAME [ARGS]\n\nbenchmarks:\n');
    for (const n of names) {
      const mod = (await import(pathToFileURL(`${dir}${n}.ts`).href)) as Partial<BenchModule>;
      process.stdout.write(`  ${n.padEnd(12)} ${mod.description ?? ''}\n`);
    }
    return name ? 0 : 0;
  }
  if (!names.includes(name)) {
    process.stderr.write(`bench: no benchmark named ${JSON.stringify(name)}; known: ${names.join(', ')}\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(`${dir}${name}.ts`).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function') {
    process.stderr.write(`bench: test/bench/${name}.ts exports no run() function\n`);
    return 2;
  }
  const result = await mod.run(rest);
  // Which runtime measured: the Node this process runs on (berth's, see src/bin/find-node.sh) and
  // whether NODE_EXTRA_CA_CERTS was set, which costs every Node start time on the machines that set it.
  const runtime = { node: process.version, node_extra_ca_certs: Boolean(process.env.NODE_EXTRA_CA_CERTS) };
  process.stdout.write(`${JSON.stringify({ bench: name, ...result, ...runtime })}\n`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
