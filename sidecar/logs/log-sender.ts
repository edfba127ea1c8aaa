import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../runtime/base/backoff.js';
import type { LogCounters, LogQueue, Queued } from './log-queue.js';
import type { FlushResult, LogOutput } from './shipper.js';

export interface LogSenderOptions {
  pollIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

/** Batches on the wire at once; 2 hides the ack round trip behind the next send. */
const SEND_WINDOW = 2;

/**
 * The sending side of one container's log: takes batches from the queue,
 * ships them to the output in order and acknowledges each (committing its
 * position) only once the receiver did. Never waits on the reader.
 */
export class LogSender {
  /** Batches sent and not yet acknowledged, plus those waiting to be re-sent, in order. */
  inflight: Queued[][] = [];
  private stopping = false;
  private aborted = false;
  private wake: (() => void) | undefined;
  /** Resolves when the send loop ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly queue: LogQueue,
    private readonly output: LogOutput,
    private readonly opts: LogSenderOptions,
    private readonly counters: LogCounters,
  ) {}

  start(): void {
    this.done = this.sendLoop();
  }

  /** A record was queued: an idle sender looks again at once. */
  poke(): void {
    this.wake?.();
  }

  /** Ends the loop; `abort` (a simulated crash) leaves the batch in flight unacknowledged. */
  stop(abort: boolean): void {
    this.stopping = true;
    if (abort) this.aborted = true;
    this.wake?.();
  }

  /** Records sent or to be re-sent, not yet acknowledged. */
  get pending(): number {
    return this.inflight.reduce((n, b) => n + b.length, 0);
  }

  /**
   * Up to SEND_WINDOW batches are in flight (the next one is on the wire
   * while the receiver acks the previous one); results are taken strictly in
   * order, so positions are committed in order. A batch answered `retry`
   * sends it and everything after it again, in order, one batch at a time
   * until one is delivered.
   */
  private async sendLoop(): Promise<void> {
    const backoff = new Backoff({
      initialMs: this.opts.retryMinMs,
      maxMs: this.opts.retryMaxMs,
      jitter: 0.5,
    });
    const window: { batch: Queued[]; result: Promise<FlushResult> }[] = [];
    let resend: Queued[][] = [];
    const track = () => {
      this.inflight = [...window.map((w) => w.batch), ...resend];
    };
    while (!this.stopping) {
      // While retrying, probe with one batch; otherwise keep the window full.
      const limit = this.queue.degraded ? 1 : SEND_WINDOW;
      while (window.length < limit) {
        const batch = resend.shift() ?? this.queue.nextBatch();
        if (batch.length === 0) break;
        window.push({ batch, result: this.output.flush(batch.map((q) => q.record)) });
      }
      track();
      const head = window[0];
      if (!head) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.opts.pollIntervalMs).unref();
        });
        this.wake = undefined;
        continue;
      }
      const result = await head.result;
      if (this.aborted) return;
      if (result === 'retry') {
        // Let the rest settle: whatever they answered, they go again after the head.
        await Promise.all(window.map((w) => w.result));
        if (this.aborted) return;
        this.counters.batchesRetried++;
        resend = [...window.map((w) => w.batch), ...resend];
        window.length = 0;
        track();
        if (!this.queue.degraded) this.queue.enterDegraded(resend.flat());
        await sleep(backoff.next());
        continue;
      }
      window.shift();
      backoff.reset();
      this.queue.degraded = false;
      if (result === 'ok') this.counters.recordsShipped += head.batch.length;
      else this.counters.recordsDropped += head.batch.length;
      track();
      this.queue.acknowledge(head.batch);
    }
  }
}
