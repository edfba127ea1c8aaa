/**
 * What every view shares: the container list (kept current from the event
 * stream, re-read after each container event), the last events, and the
 * latest stats reading. One events WebSocket and one stats WebSocket for the
 * whole page, whatever view is shown.
 */
import { get } from './api.js';
import { isObserved } from './source.js';
import type { AgentInfo, Container, EventEnvelope, StatsMessage } from './types.js';
import { openStream, type Stream, type StreamState } from './ws.js';

/** Events the page keeps for the events view. */
export const EVENTS_KEPT = 500;

type Listener = () => void;

export class Store {
  containers: Container[] = [];
  events: EventEnvelope[] = [];
  stats: StatsMessage | undefined;
  /** The agent's --mode (GET /v1/info, read with the first list); undefined until then or from an older agent. */
  mode: AgentInfo['mode'];
  streamState: Record<'events' | 'stats', StreamState> = { events: 'connecting', stats: 'connecting' };
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly streams: Stream[] = [];
  private refreshing: Promise<void> | undefined;
  private again = false;
  private askingMode = false;
  private listed = false;

  /** Opens the streams; the container list is read when the events stream opens (and reopens). */
  start(): void {
    const events = openStream(
      '/v1/ws/events',
      (data) => {
        const env = data as EventEnvelope;
        if (typeof env?.topic !== 'string') return;
        this.events.push(env);
        if (this.events.length > EVENTS_KEPT) this.events.splice(0, this.events.length - EVENTS_KEPT);
        this.emit('events');
        if (env.topic.startsWith('container.')) void this.refresh();
      },
      (s) => {
        this.streamState.events = s;
        // A reconnect may have missed events: list again (the informer rule).
        if (s === 'open') void this.refresh();
        this.emit('status');
      },
    );
    const stats = openStream(
      '/v1/ws/stats?interval=1s',
      (data) => {
        const m = data as StatsMessage;
        if (!Array.isArray(m?.containers)) return;
        this.stats = m;
        this.emit('stats');
      },
      (s) => {
        this.streamState.stats = s;
        this.emit('status');
      },
    );
    this.streams.push(events, stats);
  }

  /** Closes the streams for good (the session ended). */
  stop(): void {
    for (const s of this.streams.splice(0)) s.close();
  }

  /**
   * Whether the agent lists observed containers (`--mode observe|both`): the
   * views show each container's source then, and nothing new in run mode.
   */
  get observing(): boolean {
    return this.mode === 'observe' || this.mode === 'both' || this.containers.some(isObserved);
  }

  /** Re-reads the container list (the first time, the agent's mode too); calls made while one runs coalesce into one more. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          // The mode is asked beside the first list, not waited for: the first view is the list's.
          if (this.mode === undefined && !this.askingMode) {
            this.askingMode = true;
            get<AgentInfo>('/v1/info').then(
              (i) => {
                this.mode = i.mode ?? 'run';
                // Drawn with the list when it comes; redrawn now if it came first.
                if (this.mode !== 'run' && this.listed) this.emit('containers');
              },
              () => {
                this.askingMode = false; // asked again with the next list
              },
            );
          }
          const list = await get<Container[]>('/v1/containers?all=1');
          this.containers = list;
          this.listed = true;
          this.emit('containers');
        } catch {
          // the status view shows the streams' state; the next event retries
        }
      } while (this.again);
      this.refreshing = undefined;
    })();
    return this.refreshing;
  }

  on(what: 'containers' | 'events' | 'stats' | 'status', fn: Listener): () => void {
    let set = this.listeners.get(what);
    if (!set) {
      set = new Set();
      this.listeners.set(what, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit(what: string): void {
    for (const fn of this.listeners.get(what) ?? []) fn();
  }
}
