/**
 * Log shipping end to end: a container on a real agent writes N numbered
 * lines of ~100 bytes as fast as it can; measured from the conmon timestamp
 * of its first line to the test receiver holding (and having acked) all N.
 * The ceiling, in the same run: the same script's bytes read from a pipe and
 * split into lines in Node (no conmon, no file, no shipping).
 *
 *   npm run bench -- logs [N] [ROUNDS]      (defaults 200000 and 3; medians)
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { decodeMulti, decodeMultiStream, ExtensionCodec, encode } from '@msgpack/msgpack';
import { startAgent, type TestAgent } from '../harness/agent.js';
import { buildBusyboxImage } from '../harness/images.js';
import { cpuSeconds } from './_proc.js';
import { median, round } from './_stats.js';

export const description = 'container stdout → acked at a Forward receiver vs a raw pipe (lines/s)';

/**
 * A Forward receiver that acks a PackedForward message as soon as it is
 * framed and decodes its entries only after the clock stopped. The test
 * receiver (test/tools/forward-receiver) decodes every entry before it acks
 * and tops out near 100,000 records/s on this machine by itself, so it would
 * measure itself rather than berth. Counting uses the `size` option; the
 * decode afterwards checks every line (lost, duplicated), so a wrong `size`
 * cannot hide a loss.
 */
export class AckSink {
  private server: Server | undefined;
  private readonly bodies: Uint8Array[] = [];
  private counted = 0;
  private readonly sockets = new Set<Socket>();
  private waiter: { n: number; resolve: () => void } | undefined;

  static async start(port = 0): Promise<AckSink> {
    const s = new AckSink();
    s.server = createServer((sock) => s.handle(sock));
    const server = s.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => resolve());
    });
    return s;
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Entries announced by `size` so far. */
  get count(): number {
    return this.counted;
  }

  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.counted >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ack sink: ${this.counted} of ${n} records after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }

  /** Every entry received so far as (log, time in ms), in arrival order (duplicates included). */
  entries(): { log: string; ms: number }[] {
    const out: { log: string; ms: number }[] = [];
    for (const body of this.bodies) {
      for (const e of decodeMulti(body, { extensionCodec: EVENT_TIME_MS })) {
        const [t, rec] = Array.isArray(e) ? (e as [unknown, Record<string, unknown> | undefined]) : [];
        out.push({ log: String(rec?.log ?? ''), ms: typeof t === 'number' ? t : Number.NaN });
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    void (async () => {
      try {
        for await (const msg of decodeMultiStream(sock as AsyncIterable<Uint8Array>)) {
          if (!Array.isArray(msg)) continue;
          const [, body, options] = msg as [unknown, unknown, Record<string, unknown> | undefined];
          if (!(body instanceof Uint8Array)) throw new Error('ack sink: only PackedForward is supported');
          this.bodies.push(body);
          this.counted += Number(options?.size ?? 0);
          if (typeof options?.chunk === 'string') sock.write(encode({ ack: options.chunk }));
          if (this.waiter && this.counted >= this.waiter.n) this.waiter.resolve();
        }
      } catch {
        sock.destroy();
      }
    })();
  }
}

/** EventTime (ext 0: uint32 seconds, uint32 nanoseconds) as unix milliseconds. */
const EVENT_TIME_MS = (() => {
  const codec = new ExtensionCodec();
  codec.register({
    type: 0,
    encode: () => null,
    decode: (d: Uint8Array) => {
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      return v.getUint32(0) * 1000 + v.getUint32(4) / 1e6;
    },
  });
  return codec;
})();

const IMAGE = 'bench/busybox:logs';
// 6-digit-ish number + space + padding ≈ 100 bytes a line.
const PAD = 'x'.repeat(92);

function script(n: number): string {
  return `seq 1 ${n} | sed 's/$/ ${PAD}/'`;
}

function note(s: string): void {
  process.stderr.write(`logs bench: ${s}\n`);
}

/** Lines/s of the script's output read from a pipe and split in Node. */
async function ceiling(n: number): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn('busybox', ['sh', '-c', script(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lines = 0;
  let rest = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    lines += parts.length;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (lines !== n) throw new Error(`ceiling: read ${lines} of ${n} lines`);
  return n / secs;
}

interface Round {
  linesPerS: number;
  /** From conmon's timestamps of the first and last line: how fast the file was written. */
  writtenPerS: number;
  /** The agent's CPU time per line over the round (shipping, plus the run/rm calls). */
  agentCpuUsPerLine: number;
  lost: number;
  duplicated: number;
}

async function shipped(agent: TestAgent, port: number, n: number, i: number): Promise<Round> {
  const sink = await AckSink.start(port);
  const name = `bench-logs-${process.pid}-${i}`;
  const cpu0 = cpuSeconds(agent.process().pid);
  try {
    const r = await agent.cli(['run', '-d', '--name', name, IMAGE, 'sh', '-c', script(n)]);
    if (r.code !== 0) throw new Error(`berth run: ${r.stderr}`);
    await sink.waitFor(n, 300_000);
    let done = Date.now();
    let tally = count(sink.entries(), n);
    // Duplicates arrived in place of some lines: wait (bounded) for the rest.
    for (let k = 0; k < 600 && tally.lost > 0; k++) {
      await new Promise((res) => setTimeout(res, 100));
      tally = count(sink.entries(), n);
      done = Date.now();
    }
    const secs = (done - tally.firstMs) / 1000;
    const agentCpu = cpuSeconds(agent.process().pid) - cpu0;
    await agent.cli(['rm', '-f', name]);
    return {
      linesPerS: n / secs,
      writtenPerS: n / ((tally.lastMs - tally.firstMs) / 1000),
      agentCpuUsPerLine: (agentCpu * 1e6) / n,
      lost: tally.lost,
      duplicated: tally.duplicated,
    };
  } finally {
    await sink.stop();
  }
}

/** Lost and duplicated numbers among `entries`; the conmon time of line 1 starts the clock. */
function count(
  entries: readonly { log: string; ms: number }[],
  n: number,
): { lost: number; duplicated: number; firstMs: number; lastMs: number } {
  const seen = new Uint8Array(n + 1);
  let lost = n;
  let duplicated = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  let lastMs = Number.NEGATIVE_INFINITY;
  for (const e of entries) {
    const num = Number.parseInt(e.log, 10);
    if (!(num >= 1 && num <= n)) continue;
    if (seen[num]) duplicated++;
    else {
      seen[num] = 1;
      lost--;
    }
    if (num === 1) firstMs = Math.min(firstMs, e.ms);
    if (num === n) lastMs = Math.max(lastMs, e.ms);
  }
  return { lost, duplicated, firstMs, lastMs };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args[0] ?? 200_000);
  const rounds = Number(args[1] ?? 3);
  // One receiver per round on a fixed port: the agent keeps its address.
  const probe = await AckSink.start();
  const port = probe.port;
  await probe.stop();
  const agent = await startAgent({ args: ['--fluentd', `127.0.0.1:${port}`] });
  try {
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    const load = await agent.cli(['load', '-i', tar]);
    if (load.code !== 0) throw new Error(`berth load: ${load.stderr}`);
    const ends: Round[] = [];
    const ceilings: number[] = [];
    for (let i = 0; i < rounds; i++) {
      ceilings.push(await ceiling(n));
      const r = await shipped(agent, port, n, i);
      ends.push(r);
      note(
        `round ${i + 1}: ${Math.round(r.linesPerS)} lines/s shipped, ${Math.round(r.writtenPerS)} written by conmon, agent ${r.agentCpuUsPerLine.toFixed(2)} µs CPU/line, ceiling ${Math.round(ceilings[i] ?? 0)}, lost ${r.lost}, duplicated ${r.duplicated}`,
      );
    }
    const lps = median(ends.map((r) => r.linesPerS));
    const ceil = median(ceilings);
    return {
      lines: n,
      rounds,
      lines_per_s: Math.round(lps),
      ceiling_lines_per_s: Math.round(ceil),
      ratio_vs_ceiling: round(lps / ceil, 3),
      conmon_written_lines_per_s: Math.round(median(ends.map((r) => r.writtenPerS))),
      agent_cpu_us_per_line: round(median(ends.map((r) => r.agentCpuUsPerLine)), 2),
      load_average: round(loadavg()[0] ?? 0, 2),
      lost: Math.max(...ends.map((r) => r.lost)),
      duplicated: Math.max(...ends.map((r) => r.duplicated)),
    };
  } finally {
    await agent.stop();
  }
}
