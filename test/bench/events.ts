/**
 * The event exchange's fan-out: publish N events to S subscribers that read
 * them all, against the reference of pushing the same envelopes into plain
 * arrays. Proves the bench runner and keeps the exchange's overhead visible.
 */
import { EventExchange } from '../../runtime/base/events.js';
import { median, round, timeMs } from './_stats.js';

export const description = 'event exchange fan-out vs plain arrays (events/s)';

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const events = Number(args[0] ?? 100_000);
  const subscribers = 4;
  const rounds = 5;
  const exchangeMs: number[] = [];
  const arrayMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    exchangeMs.push(
      await timeMs(async () => {
        const ex = new EventExchange<number>();
        const ac = new AbortController();
        const readers = Array.from({ length: subscribers }, async () => {
          let n = 0;
          for await (const _ of ex.subscribe({ signal: ac.signal, buffer: events + 1 })) {
            if (++n === events) break;
          }
          return n;
        });
        for (let i = 0; i < events; i++) ex.publish('container.started', i);
        await Promise.all(readers);
        ac.abort();
      }),
    );
    arrayMs.push(
      await timeMs(() => {
        const sinks: unknown[][] = Array.from({ length: subscribers }, () => []);
        for (let i = 0; i < events; i++) {
          const env = { time: new Date().toISOString(), topic: 'container.started', event: i };
          for (const s of sinks) s.push(env);
        }
      }),
    );
  }
  const e = median(exchangeMs);
  const a = median(arrayMs);
  return {
    events,
    subscribers,
    exchange_events_per_s: Math.round((events / e) * 1000),
    array_events_per_s: Math.round((events / a) * 1000),
    ratio_vs_array: round(a / e, 3),
  };
}
