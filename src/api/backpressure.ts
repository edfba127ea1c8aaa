import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

/**
 * Most bytes the agent holds unsent for one event-stream client; past it the
 * client is cut off at once (4 MiB: a burst of several thousand ordinary
 * events, a host restarting hundreds of containers, fits; a client that
 * stopped reading would otherwise make the agent keep every event for it).
 */
export const MAX_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;
/** A client that keeps more than STALL_BYTES unsent for STALL_MS is cut off too, however little flows. */
export const STALL_BYTES = 64 * 1024;
export const STALL_MS = 10_000;
/** After the cut-off, how long the client has to read what is queued (and the reason) before its connection is destroyed. */
export const CUT_OFF_GRACE_MS = 10_000;

/**
 * Watches one streaming client's unsent bytes. `check()` after every write:
 * past MAX_STREAM_BUFFER_BYTES, or past STALL_BYTES for STALL_MS, it calls
 * `cutOff(reason)` once (and reports true), which must end the stream.
 */
export class SlowClientGuard {
  private timer: NodeJS.Timeout | undefined;
  cut = false;

  constructor(
    private readonly buffered: () => number,
    private readonly cutOff: (reason: string, buffered: number) => void,
  ) {}

  check(): boolean {
    if (this.cut) return true;
    const b = this.buffered();
    if (b > MAX_STREAM_BUFFER_BYTES) {
      this.fire(`client too slow: more than ${MAX_STREAM_BUFFER_BYTES} bytes unsent`, b);
    } else if (b > STALL_BYTES && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const now = this.buffered();
        if (now > STALL_BYTES)
          this.fire(`client too slow: ${now} bytes unsent for ${STALL_MS / 1000} s`, now);
      }, STALL_MS);
      this.timer.unref();
    }
    return this.cut;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(reason: string, buffered: number): void {
    if (this.cut) return;
    this.cut = true;
    this.dispose();
    this.cutOff(`${reason}; subscribe again and resync`, buffered);
  }
}

function logCutOff(logger: Logger, route: string, reason: string, buffered: number): void {
  logger.warn({ route, buffered, limit: MAX_STREAM_BUFFER_BYTES }, `event stream client cut off: ${reason}`);
}

/**
 * Guards an NDJSON response: on cut-off the reason goes out as the last line
 * (`{"error": {"code": "Unavailable", "message"}}`), the response ends, the
 * cut-off is logged, `stop` is called, and the connection is destroyed after
 * CUT_OFF_GRACE_MS if the client still does not read.
 */
export function guardNdjson(
  res: ServerResponse,
  route: string,
  logger: Logger,
  stop: () => void,
): SlowClientGuard {
  return new SlowClientGuard(
    () => res.writableLength,
    (reason, buffered) => {
      logCutOff(logger, route, reason, buffered);
      if (!res.writableEnded) {
        res.write(`${JSON.stringify({ error: { code: 'Unavailable', message: reason } })}\n`);
        // The connection goes with the response: a client that stopped reading gets no keep-alive.
        const sock = res.socket;
        res.once('finish', () => sock?.end());
        res.end();
      }
      const timer = setTimeout(() => res.destroy(), CUT_OFF_GRACE_MS);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
      stop();
    },
  );
}

/** As guardNdjson for a WebSocket: closed with 1008 (policy violation) and the reason. */
export function guardWebSocket(
  socket: WebSocket,
  route: string,
  logger: Logger,
  stop: () => void,
): SlowClientGuard {
  return new SlowClientGuard(
    () => socket.bufferedAmount,
    (reason, buffered) => {
      logCutOff(logger, route, reason, buffered);
      // A close reason is at most 123 bytes.
      socket.close(1008, reason.slice(0, 123));
      const timer = setTimeout(() => socket.terminate(), CUT_OFF_GRACE_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      stop();
    },
  );
}

/** Resolves when `res` can take more (drain) or will take nothing more (close). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
