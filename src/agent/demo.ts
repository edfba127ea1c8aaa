import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { berthCacheDir } from '../../runtime/base/cache-dir.js';
import { FailedPreconditionError, messageOf } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ImageSummary } from '../../runtime/runtime.js';

/** The images demo/compose.yaml uses; .ci/setup.sh `build_demo` writes their rootfs tarballs. */
export const DEMO_IMAGES = ['berth-demo:v1', 'berth-demo:v2'] as const;
export const DEMO_PROJECT = 'demo';

export interface DemoDeps {
  /** The image store, in-process (the agent's own manager). */
  images: {
    images(): Promise<ImageSummary[]>;
    importRootfs(tar: NodeJS.ReadableStream, ref: string): Promise<ImageSummary>;
  };
  logger: Logger;
}

export interface DemoOptions {
  /** The Compose file (the `demo` option). */
  composeFile: string;
  /** The agent's own socket, for the `berth up` it runs. */
  socket: string;
  /** Where set-up put the tarballs: `${BERTH_CACHE:-~/.cache/berth}/demo`. */
  imagesDir?: string;
  /** Cancelled when the agent stops. */
  signal: AbortSignal;
}

/** `demo` option values that mean "no demo" (so `BERTH_DEMO=0 npm start` starts the agent alone). */
export function demoWanted(value: string | null | undefined): value is string {
  return value !== undefined && value !== null && !['', '0', 'false', 'off', 'no'].includes(value.trim());
}

function defaultImagesDir(): string {
  return join(berthCacheDir(), 'demo');
}

/** The repository root: the folder holding src/bin/berth.js above this module (from src/ or dist/src/). */
function berthJs(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'src', 'bin', 'berth.js');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new FailedPreconditionError('demo: src/bin/berth.js not found above the agent module');
}

/** Imports the demo images the store lacks, from set-up's tarballs. */
export async function importDemoImages(deps: DemoDeps, imagesDir = defaultImagesDir()): Promise<string[]> {
  const have = new Set((await deps.images.images()).flatMap((i) => i.refs ?? []));
  const imported: string[] = [];
  for (const ref of DEMO_IMAGES) {
    if (have.has(ref) || have.has(`docker.io/library/${ref}`)) continue;
    const tar = join(imagesDir, `${ref.replace(':', '-')}.tar`);
    if (!existsSync(tar)) {
      throw new FailedPreconditionError(
        `demo: ${tar} is missing: run \`bash .ci/setup.sh run\` (npm start does), which builds the demo images`,
      );
    }
    await deps.images.importRootfs(createReadStream(tar), ref);
    imported.push(ref);
  }
  return imported;
}

/**
 * Brings the demo project up the way a user would: `berth up -f FILE -p demo
 * -d --wait` against the agent's own socket, so the demo exercises exactly
 * the CLI and API the README tours. Resolves with what `up` printed; rejects
 * with it when `up` fails.
 */
export async function upDemo(opts: DemoOptions): Promise<string> {
  const args = [berthJs(), 'up', '-f', resolve(opts.composeFile), '-p', DEMO_PROJECT, '-d', '--wait'];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--', ...args], {
      env: { ...process.env, BERTH_SOCKET: opts.socket, BERTH_HOST: '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.on('error', (err) => fail(err));
    child.on('close', (code) =>
      code === 0
        ? done(out)
        : fail(new FailedPreconditionError(`demo: berth up exited ${code}: ${out.trim()}`)),
    );
  });
}

export interface DemoEndpoints {
  /** `host:port` of the DNS server, if it runs. */
  dns?: string;
  /** The /metrics URL, if it runs. */
  metrics?: string;
  /** The dashboard's login URL, if it runs. */
  dashboard?: string;
  /** The web service's HAProxy frontend port. */
  webPort: number;
}

/** The "where to look" block the agent prints once the demo is up. */
export function demoBanner(e: DemoEndpoints, composeFile: string): string {
  const [dnsHost, dnsPort] = e.dns ? splitHostPort(e.dns) : [];
  const lines = [
    '',
    `demo project "${DEMO_PROJECT}" is up (${composeFile}): web x2 behind HAProxy, a worker logging JSON`,
    ...(e.dashboard ? [`  dashboard  ${e.dashboard}`] : []),
    `  haproxy    curl http://127.0.0.1:${e.webPort}/`,
    ...(dnsHost
      ? [`  dns        dig @${dnsHost} -p ${dnsPort} +short ${DEMO_PROJECT}-web.service.consul`]
      : []),
    ...(e.metrics ? [`  metrics    curl -s ${e.metrics} | grep container_cpu`] : []),
    `  services   src/bin/berth services -p ${DEMO_PROJECT}`,
    `  logs       src/bin/berth logs -p ${DEMO_PROJECT} worker`,
    `  roll to v2 DEMO_VERSION=v2 src/bin/berth up -f ${composeFile} -d   (then: src/bin/berth services -p ${DEMO_PROJECT})`,
    `  remove     src/bin/berth down -p ${DEMO_PROJECT}`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

function splitHostPort(s: string): [string, string] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[|\]$/g, ''), s.slice(i + 1)];
}

/** What Ctrl-C leaves behind when the demo ran, printed as the agent stops. */
export function demoStopNote(): string {
  return (
    `berth agent stopped. Still running (live restore; the next start re-adopts them): the "${DEMO_PROJECT}" ` +
    `project's containers and the managed HAProxy.\nTo remove the demo: start the agent ` +
    `(BERTH_DEMO=0 npm start) and run \`src/bin/berth down -p ${DEMO_PROJECT}\`.\n`
  );
}

/** Runs the whole demo: import images, up, banner; failures are logged, never fatal to the agent. */
export async function runDemo(
  deps: DemoDeps,
  opts: DemoOptions & { endpoints: () => Omit<DemoEndpoints, 'webPort'> },
): Promise<boolean> {
  const log = deps.logger.child({ component: 'demo' });
  try {
    const imported = await importDemoImages(deps, opts.imagesDir);
    if (imported.length > 0) log.info({ imported }, 'demo images imported');
    log.info({ file: opts.composeFile }, 'bringing up the demo project');
    await upDemo(opts);
    const webPort = Number(process.env.DEMO_PORT ?? 8080);
    process.stdout.write(demoBanner({ ...opts.endpoints(), webPort }, opts.composeFile));
    return true;
  } catch (err) {
    if (opts.signal.aborted) return false;
    log.error({ err: messageOf(err) }, 'the demo did not come up; the agent keeps running');
    process.stdout.write(`\ndemo: not started: ${messageOf(err)}\n`);
    return false;
  }
}
