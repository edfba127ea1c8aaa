import { join } from 'node:path';
import { buildBusyboxImage } from './images.js';

/**
 * The HTTP test service of the rollout tests and benchmark: busybox httpd on
 * HTTP_PORT serving `/` = the version string (`v1\n`) and `/healthz` = `ok`,
 * with an image health check (wget of /healthz, every second). A `-sick` tag
 * has no /healthz file: httpd answers 404 there, so the check fails and the
 * replica turns unhealthy after its retries, while `/` still answers (the
 * failure is the health check's, as in a real bad release).
 */
export const HTTP_PORT = 8080;
export const HTTP_IMAGE = 'berth-test/web';
export type HttpTag = 'v1' | 'v2' | 'v3' | 'v2-sick';

/** Seconds in nanoseconds, as Docker's image config has durations. */
const s = (n: number): number => n * 1e9;

/** Builds `berth-test/web:<tag>` as a docker-archive tarball in `dir`; returns its path. */
export async function buildHttpImage(tag: HttpTag, dir: string): Promise<string> {
  const version = tag.replace(/-sick$/, '');
  const files: Record<string, string> = { '/www/index.html': `${version}\n` };
  if (!tag.endsWith('-sick')) files['/www/healthz'] = 'ok\n';
  return buildBusyboxImage({
    format: 'docker',
    ref: `${HTTP_IMAGE}:${tag}`,
    outDir: join(dir),
    extraFiles: files,
    config: {
      // httpd as pid 1 would ignore SIGTERM (the kernel drops signals pid 1 has no handler for), so every
      // stop would wait out the grace period: a shell in front exits on TERM, as a real service does.
      Cmd: ['sh', '-c', `httpd -f -p ${HTTP_PORT} -h /www & trap 'kill $!; exit 0' TERM; wait`],
      ExposedPorts: { [`${HTTP_PORT}/tcp`]: {} },
      Healthcheck: {
        Test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${HTTP_PORT}/healthz`],
        Interval: s(1),
        Timeout: s(1),
        Retries: 3,
      },
    },
  });
}

/** Builds and loads each tag into the agent (`berth load -i`). */
export async function loadHttpImages(
  cli: (args: string[]) => Promise<{ code: number; stderr: string }>,
  dir: string,
  tags: readonly HttpTag[],
): Promise<void> {
  for (const tag of tags) {
    const path = await buildHttpImage(tag, dir);
    const r = await cli(['load', '-i', path]);
    if (r.code !== 0) throw new Error(`berth load ${HTTP_IMAGE}:${tag}: ${r.stderr}`);
  }
}
