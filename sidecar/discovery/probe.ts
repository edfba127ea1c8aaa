import { connect } from 'node:net';
import { goDurationMs } from '../../runtime/base/duration.js';
import { messageOf } from '../../runtime/base/errors.js';
import type { CheckStatus, ProbedCheck } from './checks.js';

export { isProbed, type ProbedCheck } from './checks.js';

export interface ProbeResult {
  status: CheckStatus;
  output: string;
}

/** Consul's default check timeout. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Interval and timeout of a check in ms: Consul's defaults, the timeout never longer than the interval. */
export function probeTiming(check: ProbedCheck): { intervalMs: number; timeoutMs: number } {
  const intervalMs = Math.max(100, goDurationMs(check.interval) ?? 10_000);
  const t = check.timeout !== undefined ? goDurationMs(check.timeout) : undefined;
  return { intervalMs, timeoutMs: Math.min(t ?? DEFAULT_TIMEOUT_MS, intervalMs) };
}

/**
 * One run of a check, with Consul's semantics: HTTP 2xx passing, 429
 * warning, anything else (or no answer in time) critical; TCP passing once
 * a connection is accepted.
 */
export async function probeOnce(check: ProbedCheck, timeoutMs: number): Promise<ProbeResult> {
  if (check.kind === 'tcp') return probeTcp(check.address, timeoutMs);
  const method = check.method ?? 'GET';
  try {
    const res = await fetch(check.url, { method, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    const line = `HTTP ${method} ${check.url}: ${res.status} ${res.statusText}`;
    if (res.status >= 200 && res.status < 300) return { status: 'passing', output: line };
    if (res.status === 429) return { status: 'warning', output: line };
    return { status: 'critical', output: line };
  } catch (err) {
    return { status: 'critical', output: `HTTP ${method} ${check.url}: ${messageOf(err)}` };
  }
}

function probeTcp(address: string, timeoutMs: number): Promise<ProbeResult> {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  const host = m?.[1] ?? '';
  const port = Number(m?.[2] ?? 0);
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (r: ProbeResult): void => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ status: 'critical', output: `TCP connect ${address}: timeout` }));
    sock.once('connect', () => done({ status: 'passing', output: `TCP connect ${address}: Success` }));
    sock.once('error', (err) =>
      done({ status: 'critical', output: `TCP connect ${address}: ${err.message}` }),
    );
  });
}

/** Runs a check every interval until stopped; reports every result. */
export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly check: ProbedCheck,
    private readonly onResult: (r: ProbeResult) => void,
  ) {}

  start(): void {
    const { intervalMs, timeoutMs } = probeTiming(this.check);
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      const r = await probeOnce(this.check, timeoutMs);
      if (this.stopped) return;
      this.onResult(r);
      this.timer = setTimeout(() => void tick(), intervalMs);
      this.timer.unref();
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
