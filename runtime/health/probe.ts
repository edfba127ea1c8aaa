import { connect } from 'node:net';
import { HEALTH_OUTPUT_MAX, type ProbeResult } from './types.js';

/**
 * Network health probes, run from the host against the container's address.
 * An http probe's URL names the port and path as seen from inside the
 * container (`http://localhost:8080/healthz`); the host part is replaced by
 * the container's address, so the probe tests what clients of the container
 * reach. 2xx and 3xx are healthy, as in Kubernetes and Consul.
 */
export async function probeNetwork(
  probe: { kind: 'http' | 'tcp'; url?: string; port?: number; host: string },
  signal: AbortSignal,
): Promise<ProbeResult> {
  if (probe.kind === 'tcp') return probeTcp(probe.host, probe.port ?? 0, signal);
  const url = new URL(probe.url ?? 'http://localhost/');
  url.hostname = probe.host.includes(':') ? `[${probe.host}]` : probe.host;
  try {
    const res = await fetch(url, { signal, redirect: 'manual' });
    const body = await readPrefix(res, HEALTH_OUTPUT_MAX);
    return { ok: res.status >= 200 && res.status < 400, output: `HTTP ${res.status} ${body}`.trim() };
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    return { ok: false, output: `GET ${url.href}: ${cause ?? (err as Error).message}` };
  }
}

/**
 * The first `max` bytes of a response body, as text; the rest is never read:
 * the body is cancelled, which closes the connection. A container's health
 * endpoint may answer with any amount (an endless stream included), and the
 * health log keeps only this much anyway.
 */
async function readPrefix(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, max - size);
      chunks.push(part);
      size += part.length;
    }
  } finally {
    // Cancelling a body that already ended or errored rejects: the probe's result stands either way.
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function probeTcp(host: string, port: number, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (r: ProbeResult) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = () => done({ ok: false, output: `connect ${host}:${port}: timed out` });
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done({ ok: true, output: `connected to ${host}:${port}` }));
    sock.once('error', (err) => done({ ok: false, output: `connect ${host}:${port}: ${err.message}` }));
  });
}
