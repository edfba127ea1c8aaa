import { existsSync, type FSWatcher, watch } from 'node:fs';
import type { Logger } from '../base/log.js';
import type { MonitorProbe } from './monitor.js';
import type { ExitInfo } from './types.js';

/** One pending wait: `check` reads the exit state now, `poll` is the cheap periodic look. */
interface Waiter {
  check(): void;
  poll(): void;
}

export interface WaitTarget {
  /** conmon's exit file for the container (its appearance is the event). */
  exitFile: string;
  /** conmon's pid file (the poll remembers the live monitor it names). */
  pidFile: string;
  /** The full check: the exit as recorded, an exit inferred from a lost monitor, or undefined while it runs. */
  probe(): Promise<ExitInfo | undefined>;
}

/**
 * Waits for container exits. Every wait shares one fs.watch on the exit dir
 * (events are dispatched by file name, which is the container id) and one
 * poll timer: with hundreds of containers, a watcher and a timer each cost an
 * idle agent more than the work they do. fs.watch reports exits at once; the
 * poll only catches a lost monitor or a missed event.
 */
export class ExitWatcher {
  /** Pending waits by container id. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly exitDir: string,
    private readonly pollMs: number,
    private readonly monitors: MonitorProbe,
    private readonly log: Logger,
  ) {}

  /** Resolves with the container's exit; never rejects (a failing check is logged and retried). */
  wait(id: string, target: WaitTarget): Promise<ExitInfo> {
    return new Promise<ExitInfo>((resolve) => {
      let checking = false;
      let again = false;
      let settled = false;
      /** The conmon last seen alive (see poll below). */
      let monitor: { pid: number; start: string } | undefined;
      const waiter: Waiter = {
        check: () => void check(),
        // The poll's common case (no exit file, the same conmon still running) costs two
        // small synchronous reads; only a change runs the full check.
        poll: () => {
          if (monitor !== undefined && this.monitors.stillRuns(monitor) && !existsSync(target.exitFile)) {
            return;
          }
          void check().then(() => {
            if (!settled) monitor = this.monitors.live(target.pidFile);
          });
        },
      };
      const settle = (info: ExitInfo): void => {
        if (settled) return;
        settled = true;
        this.remove(id, waiter);
        resolve(info);
      };
      const check = async (): Promise<void> => {
        // Coalesce bursts of fs events into one read at a time.
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            const info = await target.probe();
            if (info) return settle(info);
          } while (again && !settled);
        } catch (err) {
          // A runtime hiccup (runc state timing out) must not fail a wait that can last for days.
          this.log.warn({ err, id }, 'checking for the container exit failed; will retry');
        } finally {
          checking = false;
        }
      };
      this.add(id, waiter);
      // The exit may have landed between the caller's first read and the watch.
      void check();
    });
  }

  private add(id: string, w: Waiter): void {
    let set = this.waiters.get(id);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(id, set);
    }
    set.add(w);
    if (this.watcher === undefined) {
      try {
        const watcher = watch(this.exitDir, (_event, name) => {
          if (name === null) for (const ws of this.waiters.values()) for (const x of ws) x.check();
          else for (const x of this.waiters.get(name) ?? []) x.check();
        });
        watcher.on('error', (err) => {
          // The poll still catches exits; the next wait tries to watch again.
          this.log.debug({ err }, 'fs.watch on exit dir failed; polling only');
          if (this.watcher === watcher) this.watcher = undefined;
          watcher.close();
        });
        // Watching exits never keeps the agent alive: its shutdown ends with containers still running.
        watcher.unref();
        this.watcher = watcher;
      } catch (err) {
        this.log.debug({ err, id }, 'fs.watch on exit dir failed; polling only');
      }
    }
    this.pollTimer ??= setInterval(() => {
      for (const ws of this.waiters.values()) for (const x of ws) x.poll();
    }, this.pollMs).unref();
  }

  private remove(id: string, w: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(w);
    if (set?.size === 0) this.waiters.delete(id);
    if (this.waiters.size > 0) return;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
