/**
 * A WebSocket to the agent that comes back: reconnects with backoff (1 s
 * doubling to 10 s) after the agent restarts or cuts a slow client off (1008),
 * and stops for good when closed by the page. The session cookie rides along
 * (same origin) and the session key as a protocol entry (a browser cannot set
 * headers on an upgrade), as the API's streams require; the agent answers
 * with the plain `berth.session`, so the key is never echoed.
 */
import { SESSION_PROTOCOL, sessionKey } from './session-key.js';

export type StreamState = 'connecting' | 'open' | 'closed' | 'ended';

export interface Stream {
  close(): void;
}

let dropped: (() => void) | undefined;

/**
 * Called whenever a stream drops on its own: its session may have ended (the
 * agent closes a session's streams when it does, and a browser does not tell
 * a page why a WebSocket was refused), so the page asks (main.ts).
 */
export function whenStreamDropped(fn: () => void): void {
  dropped = fn;
}

export function openStream(
  path: string | (() => string),
  onMessage: (data: unknown) => void,
  onState: (state: StreamState, reason?: string) => void = () => undefined,
  reconnectOnEnd = true,
): Stream {
  let ws: WebSocket | undefined;
  let stopped = false;
  let delay = 1000;
  let timer: number | undefined;
  // A function path is asked again on each reconnect (the log tail resumes from its last line).
  const url = () =>
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${typeof path === 'string' ? path : path()}`;
  const connect = () => {
    onState('connecting');
    // The key is read at each (re)connect: another tab's login may have replaced it.
    const key = sessionKey();
    ws = new WebSocket(url(), key === undefined ? [] : [SESSION_PROTOCOL, `${SESSION_PROTOCOL}.${key}`]);
    ws.onopen = () => {
      delay = 1000;
      onState('open');
    };
    ws.onmessage = (ev) => {
      let data: unknown;
      try {
        data = JSON.parse(String(ev.data));
      } catch {
        return; // not ours to show; a malformed frame must not stop the stream
      }
      onMessage(data);
    };
    ws.onclose = (ev) => {
      if (stopped) return;
      // 1000: the agent ended the stream on purpose (logs without follow): not a failure to retry.
      if (ev.code === 1000 && !reconnectOnEnd) {
        onState('ended');
        return;
      }
      onState('closed', ev.reason || `closed (${ev.code})`);
      dropped?.();
      timer = window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  connect();
  return {
    close() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      ws?.close(1000);
    },
  };
}
