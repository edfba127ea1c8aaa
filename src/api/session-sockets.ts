import type { Socket } from 'node:net';

/** How often the sockets of sessions that ended on their own (expiry, the oldest dropped) are closed. */
export const SWEEP_MS = 10_000;

/**
 * The WebSocket connections each dashboard session opened, so that a session
 * that ends takes them with it: a session is checked when a WebSocket opens,
 * and a stream (or an `exec`) would otherwise outlive a logout or the
 * session's expiry for as long as it stays open. Logout closes them at once;
 * a sweep every `SWEEP_MS` closes those of sessions that expired or were
 * dropped. The page sees its streams close and finds its session gone
 * (web/README.md).
 */
export class SessionSockets<S extends object> {
  private readonly open = new Map<S, Set<Socket>>();
  private timer: NodeJS.Timeout | undefined;

  /** `live` says whether a session still is (not expired, not dropped, not logged out). */
  constructor(private readonly live: (session: S) => boolean) {}

  /** Starts the sweep; it does not keep the process alive. */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Remembers a connection a session upgrades; forgotten when it closes. */
  add(session: S, socket: Socket): void {
    let set = this.open.get(session);
    if (!set) {
      set = new Set();
      this.open.set(session, set);
    }
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.open.get(session) === set) this.open.delete(session);
    });
  }

  /** Closes a session's connections (it just ended). */
  close(session: S): void {
    for (const s of this.open.get(session) ?? []) s.destroy();
    this.open.delete(session);
  }

  /** Closes the connections of every session that is no longer live; how many sessions that was. */
  sweep(): number {
    let ended = 0;
    for (const session of [...this.open.keys()]) {
      if (this.live(session)) continue;
      this.close(session);
      ended++;
    }
    return ended;
  }

  /** Open connections, over all sessions (for tests). */
  count(): number {
    let n = 0;
    for (const set of this.open.values()) n += set.size;
    return n;
  }
}
