/** One line of `/v1/ws/logs`: a container's output line, named by container. */
export interface LogMessage {
  container: string;
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
  partial?: boolean;
}

/** A batch goes out at this many lines… */
export const BATCH_MAX_LINES = 500;
/** …or at this many bytes of lines (a line can be 1 MiB: the line count alone would not bound a batch)… */
export const BATCH_MAX_BYTES = 256 * 1024;
/** …or this long after its first line, whichever comes first. */
export const BATCH_MAX_DELAY_MS = 50;

/**
 * Merges the lines of several containers into batches for one WebSocket
 * client. `push` resolves once the line is taken; while a batch is being
 * sent (and `send` waits for the client to read) producers wait, so what is
 * held per client is one batch plus what `send` allows. Lines of a batch are
 * sorted by time (stable: one container's lines keep their order).
 */
export class LogBatcher {
  private pending: LogMessage[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly send: (batch: LogMessage[]) => Promise<void>,
    private readonly limits = {
      maxLines: BATCH_MAX_LINES,
      maxBytes: BATCH_MAX_BYTES,
      maxDelayMs: BATCH_MAX_DELAY_MS,
    },
  ) {}

  async push(m: LogMessage): Promise<void> {
    while (this.sending) await this.sending;
    if (this.closed) return;
    this.pending.push(m);
    // The JSON around a line is about 100 bytes; the line's own length dominates.
    this.bytes += m.line.length + m.container.length + 100;
    if (this.pending.length >= this.limits.maxLines || this.bytes >= this.limits.maxBytes) {
      await this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.limits.maxDelayMs);
    }
  }

  /** Sends what is pending now (resolves when sent); a flush already under way is joined. */
  flush(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 || this.closed) return Promise.resolve();
    const batch = this.pending.sort((a, b) => timeMs(a.time) - timeMs(b.time));
    this.pending = [];
    this.bytes = 0;
    this.sending = this.send(batch).finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  /** Drops what is pending and refuses more (the client went away). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}

/** Milliseconds of an RFC 3339 time (the nanoseconds do not matter across containers; one container's order is kept). */
function timeMs(t: string): number {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}
