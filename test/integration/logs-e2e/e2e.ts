/**
 * Shared pieces of the log-shipping end-to-end tests: a real agent with a
 * busybox image loaded, a Forward receiver on loopback, and the accounting of
 * numbered lines (lost, duplicated, out of order) a user would do by hand.
 */
import assert from 'node:assert/strict';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import type { ForwardReceiver, ReceivedEvent } from '../../tools/forward-receiver/receiver.js';

export const IMAGE = 'test/busybox:logs';

/** Starts an agent with `args` and loads the busybox image into it. */
export async function agentWithImage(args: string[] = []): Promise<TestAgent> {
  const agent = await startAgent({ args });
  try {
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    await ok(agent, ['load', '-i', tar]);
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}

export async function ok(agent: TestAgent, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await agent.cli(args, { timeoutMs });
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * A shell script printing 1..total as numbered lines, in `chunks` bursts with
 * `pauseS` seconds between them, so the output is spread over a known time.
 */
export function numberedScript(total: number, chunks: number, pauseS: number, prefix = ''): string {
  const per = Math.ceil(total / chunks);
  const seqCmd = prefix ? `seq $a $b | sed 's/^/${prefix}/'` : 'seq $a $b';
  return [
    'k=0',
    `while [ $k -lt ${chunks} ]; do`,
    `  a=$((k*${per}+1)); b=$((k*${per}+${per})); [ $b -gt ${total} ] && b=${total}`,
    `  ${seqCmd}`,
    `  sleep ${pauseS}`,
    '  k=$((k+1))',
    'done',
  ].join('\n');
}

/** What arrived for one container, as numbers parsed from `log` (after `prefix`). */
export interface LineAccount {
  received: number;
  unique: number;
  lost: number;
  duplicated: number;
  /** Times a first-seen number was smaller than an earlier first-seen one. */
  outOfOrder: number;
  firstLost: number[];
  /** Up to 10 runs of lost numbers, as `from-to`. */
  lostRanges: string[];
}

export function account(
  events: readonly ReceivedEvent[],
  container: string,
  total: number,
  prefix = '',
): LineAccount {
  const seen = new Uint8Array(total + 1);
  let received = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let maxFirst = 0;
  for (const e of events) {
    if (e.record.container_name !== container) continue;
    const log = String(e.record.log ?? '');
    if (!log.startsWith(prefix)) continue;
    const n = Number(log.slice(prefix.length));
    if (!Number.isInteger(n) || n < 1 || n > total) continue;
    received++;
    if (seen[n]) {
      duplicated++;
      continue;
    }
    seen[n] = 1;
    if (n < maxFirst) outOfOrder++;
    else maxFirst = n;
  }
  const firstLost: number[] = [];
  const lostRanges: string[] = [];
  let lost = 0;
  for (let i = 1; i <= total; i++) {
    if (seen[i]) continue;
    lost++;
    if (firstLost.length < 10) firstLost.push(i);
    if (!seen[i - 1] && i > 1) continue;
    let j = i;
    while (j + 1 <= total && !seen[j + 1]) j++;
    if (lostRanges.length < 10) lostRanges.push(`${i}-${j}`);
  }
  return { received, unique: total - lost, lost, duplicated, outOfOrder, firstLost, lostRanges };
}

/** Waits (bounded) until `container` has all `total` numbers at the receiver. */
export async function waitAll(
  receiver: ForwardReceiver,
  container: string,
  total: number,
  timeoutMs: number,
  prefix = '',
): Promise<LineAccount> {
  const deadline = Date.now() + timeoutMs;
  let last = account(receiver.records(), container, total, prefix);
  // Recounting 200k events costs ~20 ms; every 250 ms is cheap enough.
  for (let i = 0; i < 100_000 && last.lost > 0 && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 250));
    last = account(receiver.records(), container, total, prefix);
  }
  return last;
}

export function describeAccount(name: string, a: LineAccount): string {
  return `${name}: received ${a.received}, unique ${a.unique}, lost ${a.lost}${
    a.lost > 0 ? ` (runs: ${a.lostRanges.join(', ')})` : ''
  }, duplicated ${a.duplicated}, out of order ${a.outOfOrder}`;
}

/** The value of an unlabelled series on the agent's /metrics (0 when absent). */
export async function metricValue(agent: TestAgent, name: string): Promise<number> {
  const url = String(((await agent.info()).endpoints as Record<string, string>).metrics);
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}
