/**
 * `/v1/ws/logs` throughput and latency against a real agent: a container
 * (a Compose-labelled replica the client follows from its start) prints
 * numbered lines at about a fixed rate (default 5,000/s, the dashboard's
 * target) for a few seconds; the client counts what arrives, how late
 * (receive time minus the line's own time) and in how many batches.
 */
import { WebSocket } from 'ws';
import { startAgent } from '../harness/agent.js';
import { buildBusyboxImage } from '../harness/images.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import { round } from './_stats.js';

export const description =
  '/v1/ws/logs lines/s and lag for a container printing N lines/s (default 5000 for 5 s)';

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rate = Number(args[0] ?? 5000);
  const seconds = Number(args[1] ?? 5);
  const total = rate * seconds;
  const dir = await tempDir('bench-ws-logs');
  const agent = await startAgent();
  try {
    const image = 'bench/busybox:wslogs';
    await agent.cli(['load', '-i', await buildBusyboxImage({ format: 'oci', ref: image, outDir: dir })]);
    // Batches of rate/100 lines every 10 ms (busybox sleep takes fractions), numbered.
    const per = Math.max(1, Math.round(rate / 100));
    const script = `i=0; while [ $i -lt ${total} ]; do j=0; while [ $j -lt ${per} ]; do echo "line $i"; i=$((i+1)); j=$((j+1)); done; sleep 0.01; done; sleep 600`;
    const ws = new WebSocket(`ws+unix://${agent.socket}:/v1/ws/logs?project=bench&follow=1`);
    let lines = 0;
    let batches = 0;
    let lastLine = -1;
    const lags: number[] = [];
    let first = 0;
    let last = 0;
    const done = new Promise<void>((resolve) => {
      ws.on('message', (d) => {
        const now = Date.now();
        const batch = JSON.parse(String(d)) as Array<{ time: string; line: string }>;
        batches++;
        first ||= now;
        for (const l of batch) {
          lines++;
          lastLine = Number(l.line.slice(5));
          lags.push(now - Date.parse(l.time));
        }
        last = now;
        if (lastLine === total - 1) resolve();
      });
    });
    await new Promise((r) => ws.once('open', r));
    const r = await agent.cli([
      'run',
      '-d',
      '--name',
      'spew',
      '--label',
      'com.docker.compose.project=bench',
      image,
      'sh',
      '-c',
      script,
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
    await Promise.race([done, new Promise((r2) => setTimeout(r2, (seconds + 60) * 1000))]);
    ws.terminate();
    lags.sort((a, b) => a - b);
    const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0;
    return {
      rate_asked: rate,
      lines_received: lines,
      all_received: lastLine === total - 1,
      received_lines_per_s: Math.round((lines / Math.max(1, last - first)) * 1000),
      batches,
      lines_per_batch: round(lines / Math.max(1, batches), 1),
      lag_ms_p50: q(0.5),
      lag_ms_p99: q(0.99),
    };
  } finally {
    await agent.stop();
    await removeDir(dir);
  }
}
