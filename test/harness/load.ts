import { Agent, request } from 'node:http';

/**
 * Constant HTTP load at a fixed rate (open loop: requests go out on schedule
 * whether or not earlier ones answered, as users arrive), bounded by a
 * request count and a time, for the rollout tests and benchmark. Every
 * response is kept (when it was sent, status, body), so a test can say not
 * only "0 failed" but "every response after time T came from v2".
 */
export interface LoadSample {
  /** ms since the load started, at send. */
  sentMs: number;
  /** Date.now() at send. */
  sentAt: number;
  status: number;
  /** The body, trimmed (the test service answers its version). */
  body: string;
  /** Set when no response came (connection refused/reset, timeout). */
  error?: string;
}

export interface LoadResult {
  samples: LoadSample[];
  requests: number;
  failed: number;
  non2xx: number;
  /** Requests not sent because the load process itself stalled over 100 ms (never sent in a burst). */
  skipped: number;
  durationMs: number;
  /** Achieved rate, requests/s. */
  rate: number;
}

export interface LoadRun {
  /** Stops sending, waits for the answers in flight, returns every sample. */
  stop(): Promise<LoadResult>;
  /** Samples so far (for polling while the load runs). */
  samples(): readonly LoadSample[];
}

export function startLoad(opts: {
  url: string;
  /** Requests per second. */
  rate: number;
  /** Upper bounds: the load stops by itself at either. */
  maxRequests: number;
  maxMs: number;
  timeoutMs?: number;
}): LoadRun {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const samples: LoadSample[] = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  let skipped = 0;
  let stopped = false;
  /** When sending ended (a bound reached), so the rate is over the sending time only. */
  let endMs: number | undefined;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const sentMs = performance.now() - t0;
      const sample: LoadSample = { sentMs, sentAt: Date.now(), status: 0, body: '' };
      const req = request(opts.url, { agent, timeout: opts.timeoutMs ?? 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          sample.status = res.statusCode ?? 0;
          sample.body = Buffer.concat(chunks).toString('utf8').trim();
          samples.push(sample);
          resolve();
        });
        res.on('error', (err) => {
          sample.error = err.message;
          samples.push(sample);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        sample.error = err.message;
        samples.push(sample);
        resolve();
      });
      req.end();
    });
  // A 5 ms tick sends what is due by now: the rate holds even when timers fire late.
  const timer = setInterval(() => {
    const elapsed = performance.now() - t0;
    if (stopped || elapsed >= opts.maxMs || sent + skipped >= opts.maxRequests) {
      clearInterval(timer);
      stopped = true;
      endMs ??= elapsed;
      return;
    }
    let due = Math.min(opts.maxRequests, Math.floor((elapsed / 1000) * opts.rate)) - sent - skipped;
    // A stalled load process (this 2-core machine is shared) must not fire its backlog in one burst,
    // which no steady client would send: what is over 100 ms behind is dropped and counted.
    const cap = Math.ceil(opts.rate / 10);
    if (due > cap) {
      skipped += due - cap;
      due = cap;
    }
    for (let i = 0; i < due; i++) {
      sent++;
      const p = one();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 5);
  return {
    samples: () => samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      const durationMs = endMs ?? performance.now() - t0;
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      agent.destroy();
      samples.sort((a, b) => a.sentMs - b.sentMs);
      return {
        samples,
        requests: samples.length,
        failed: samples.filter((s) => s.error !== undefined).length,
        non2xx: samples.filter((s) => s.error === undefined && (s.status < 200 || s.status > 299)).length,
        skipped,
        durationMs,
        rate: samples.length / (durationMs / 1000),
      };
    },
  };
}

/** A short account of what went wrong, for assertion messages. */
export function describeFailures(r: LoadResult, limit = 5): string {
  const bad = r.samples.filter((s) => s.error !== undefined || s.status < 200 || s.status > 299);
  return bad
    .slice(0, limit)
    .map((s) => `${Math.round(s.sentMs)} ms: ${s.error ?? `HTTP ${s.status} ${s.body.slice(0, 80)}`}`)
    .join('; ');
}
