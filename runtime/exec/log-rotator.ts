import { rename, stat } from 'node:fs/promises';
import type { Logger } from '../base/log.js';
import type { LogControl } from './log-control.js';

/** A container whose log the rotator looks after. */
export interface RotatableLog {
  id: string;
  logPath: string;
  /** Its monitor should be alive (running): a rotation needs it to reopen the log. */
  running: boolean;
}

/**
 * Where the log shipper stands with `<logPath>.1`: `shipped` when every line
 * of it is acknowledged (or the container is not shipped: it may be
 * replaced), `reading` while the shipper still has it open and reads it
 * (replacing it would free no disk: the open file keeps its blocks), else
 * `pending`.
 */
export type OldLogState = 'shipped' | 'reading' | 'pending';
export type OldLogGate = (c: { id: string; logPath: string }) => OldLogState | Promise<OldLogState>;

export interface LogRotatorOptions {
  /** Rotate a log file once it is this big (bytes; the agent's logMaxSize). */
  maxBytes: number;
  /**
   * The most the current file and `.1` may hold together while a rotation
   * waits for the shipper (default 4 × maxBytes). Past it the old file is
   * replaced anyway: counted in `oldFilesDropped` and logged.
   */
  capBytes?: number;
  /** How often every container's log size is looked at (one stat each). */
  intervalMs?: number;
  /**
   * How often the files near or past `maxBytes` (over half of it, or waiting
   * for the shipper) are looked at again; default intervalMs / 10. Bounds how
   * far a fast writer overshoots maxBytes (or the cap) when no reader nudges.
   */
  hotIntervalMs?: number;
  /** The containers now (berth's own: their monitors take the reopen). */
  containers(): RotatableLog[] | Promise<RotatableLog[]>;
  /** The monitor's log control, undefined when it is gone (executor.openLogControl). */
  openControl(id: string): Promise<LogControl | undefined>;
  logger?: Logger;
}

export interface LogRotationCounters {
  /** Files renamed to `.1` (a new file started at the path). */
  rotations: number;
  /** Times a due rotation began to wait for the shipper (once per wait, not per look). */
  deferred: number;
  /** Old files replaced before the shipper had them acknowledged (the cap was reached). */
  oldFilesDropped: number;
  /** Rotations that failed (logged). */
  failures: number;
}

/** A reopen sent this recently is still on its way: a missing file then is not a lost reopen. */
const REOPEN_GRACE_MS = 5000;
/** Nudges closer together than this are one (see `nudge`). */
const NUDGE_GAP_MS = 50;

/**
 * berth's own log rotation, the way the kubelet rotates CRI-O's logs: conmon
 * gets no `--log-size-max`; when a running container's log file is over
 * `maxBytes`, it is renamed to `<path>.1` and conmon is asked through its
 * control FIFO to reopen, which starts a new file at the path. Lines written
 * between the rename and the reopen land in `.1`. One old file is kept.
 *
 * The old `.1` is replaced only once the shipper has it acknowledged
 * (the gate: the shipper's `oldFileState`); until then the rotation waits and
 * the current file grows, up to `capBytes` for both files together, past which
 * the old file is replaced anyway (counted, logged: never silent), unless the
 * shipper still has it open and reads it (its blocks stay allocated while
 * open, so replacing it would free no disk). A container that exited
 * is rotated by the rename alone (no monitor to reopen; a restart's conmon
 * creates the file again).
 *
 * Work per tick is one stat per container, plus one every `hotIntervalMs`
 * (100 ms) per container whose file is over half of `maxBytes` or waits for
 * the shipper; a container is checked by one task at a time (a tick, the hot
 * timer and a shipper's `nudge` never overlap on it).
 */
export class LogRotator {
  readonly counters: LogRotationCounters = { rotations: 0, deferred: 0, oldFilesDropped: 0, failures: 0 };
  private readonly maxBytes: number;
  private readonly capBytes: number;
  private readonly intervalMs: number;
  private readonly hotIntervalMs: number;
  private hotTimer: NodeJS.Timeout | undefined;
  /** Containers whose file is over half of maxBytes, or whose rotation waits: looked at every hotIntervalMs. */
  private readonly hot = new Set<string>();
  private gate: OldLogGate = () => 'shipped';
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly busy = new Set<string>();
  private readonly waiting = new Set<string>();
  private readonly reopenedAt = new Map<string, number>();
  private readonly nudgedAt = new Map<string, number>();
  private readonly noControl = new Set<string>();
  private known = new Map<string, RotatableLog>();
  private closed = false;

  constructor(private readonly opts: LogRotatorOptions) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`log rotation: maxBytes ${opts.maxBytes} must be > 0`);
    this.maxBytes = opts.maxBytes;
    this.capBytes = Math.max(opts.capBytes ?? 4 * opts.maxBytes, 2 * opts.maxBytes);
    this.intervalMs = opts.intervalMs ?? 1000;
    this.hotIntervalMs = opts.hotIntervalMs ?? Math.max(10, Math.floor(this.intervalMs / 10));
  }

  /** The shipper's answer to "is `.1` shipped?"; until set, every old file counts as shipped. */
  setGate(gate: OldLogGate): void {
    this.gate = gate;
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, this.intervalMs);
    this.timer.unref();
    this.hotTimer = setInterval(() => {
      for (const id of this.hot) {
        const c = this.known.get(id);
        if (c && !this.busy.has(id)) void this.check(c);
      }
    }, this.hotIntervalMs);
    this.hotTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.hotTimer);
    this.timer = undefined;
    await this.ticking;
  }

  /**
   * A reader saw the file reach `offset`: look now rather than at the next
   * tick (fast writers would otherwise outgrow maxBytes by a tick's output).
   * Ignored for containers the rotator does not know (observe mode's).
   */
  nudge(id: string, offset: number): void {
    if (offset < this.maxBytes || this.closed) return;
    const c = this.known.get(id);
    if (!c || this.busy.has(id)) return;
    // A reader reads many times a second; while a rotation waits for the shipper every read
    // would look again (a stat and two file heads). One look per NUDGE_GAP_MS is enough.
    const now = Date.now();
    if (now - (this.nudgedAt.get(id) ?? 0) < NUDGE_GAP_MS) return;
    this.nudgedAt.set(id, now);
    void this.check(c);
  }

  /** One look at every container (also what the timer runs). */
  async tick(): Promise<void> {
    let all: RotatableLog[];
    try {
      all = await this.opts.containers();
    } catch (err) {
      // The timer runs this unawaited: a failed listing is logged and the next tick tries again.
      this.counters.failures++;
      this.opts.logger?.warn({ err }, 'log rotation: cannot list containers; trying again later');
      return;
    }
    this.known = new Map(all.map((c) => [c.id, c]));
    // Forget removed containers.
    for (const m of [this.reopenedAt, this.nudgedAt])
      for (const id of m.keys()) if (!this.known.has(id)) m.delete(id);
    for (const set of [this.waiting, this.noControl, this.hot])
      for (const id of set) if (!this.known.has(id)) set.delete(id);
    for (const c of all) {
      if (this.closed) return;
      await this.check(c);
    }
  }

  /** Rotates `c`'s log if it is due and allowed; never throws (failures are counted and logged). */
  async check(c: RotatableLog): Promise<void> {
    if (this.busy.has(c.id)) return;
    this.busy.add(c.id);
    try {
      await this.rotateIfDue(c);
    } catch (err) {
      this.counters.failures++;
      if (this.counters.failures === 1 || this.counters.failures % 100 === 0) {
        this.opts.logger?.warn({ err, id: c.id, path: c.logPath }, 'log rotation failed; trying again later');
      }
    } finally {
      this.busy.delete(c.id);
    }
  }

  private async rotateIfDue(c: RotatableLog): Promise<void> {
    const old = `${c.logPath}.1`;
    const cur = await sizeOf(c.logPath);
    if (cur === undefined) {
      await this.repairLostReopen(c, old);
      return;
    }
    // Only a running container's file grows: an exited one is never looked at more than per tick.
    if (c.running && cur * 2 >= this.maxBytes) this.hot.add(c.id);
    else this.hot.delete(c.id);
    if (cur < this.maxBytes) return;
    const oldSize = await sizeOf(old);
    let drop = false;
    const state = oldSize === undefined ? 'shipped' : await this.gate(c);
    if (state !== 'shipped') {
      // Past the cap a file the shipper still reads waits too: unlinking it would free nothing
      // until the shipper closes it, and only lose it to a crash meanwhile.
      if ((oldSize ?? 0) + cur < this.capBytes || state === 'reading') {
        if (!this.waiting.has(c.id)) {
          this.waiting.add(c.id);
          this.counters.deferred++;
          this.opts.logger?.debug({ id: c.id, path: c.logPath }, 'log rotation waits for the shipper');
        }
        return;
      }
      drop = true;
    }
    const control = c.running ? await this.opts.openControl(c.id) : undefined;
    if (c.running && !control) {
      // The monitor is gone (the container is exiting) or never had a FIFO: renaming now would
      // leave nobody to start a new file; the next tick sees the container's new state.
      this.hot.delete(c.id);
      if (!this.noControl.has(c.id)) {
        this.noControl.add(c.id);
        this.opts.logger?.debug({ id: c.id }, 'log rotation: no conmon control FIFO; not rotating now');
      }
      return;
    }
    this.noControl.delete(c.id);
    try {
      try {
        await rename(c.logPath, old);
      } catch (err) {
        // The container is being removed (its directory moved aside): nothing left to rotate.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      this.waiting.delete(c.id);
      this.counters.rotations++;
      if (drop) {
        this.counters.oldFilesDropped++;
        const n = this.counters.oldFilesDropped;
        if (n <= 10 || n % 100 === 0) {
          this.opts.logger?.warn(
            { id: c.id, path: old, dropped: n, capBytes: this.capBytes },
            'log rotation: the shipper has not acknowledged the old log file and the cap is reached; replaced it (lines only it held are lost to berth logs, and to shipping unless already spooled)',
          );
        }
      }
      if (control) {
        this.reopenedAt.set(c.id, Date.now());
        await control.reopen().catch((err: unknown) => {
          // EPIPE: the monitor closed the FIFO since it was opened (the container exited), so it
          // writes nothing more; the renamed file is complete and a restart's conmon creates a new one.
          if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
        });
      }
    } finally {
      await control?.close();
    }
  }

  /**
   * No file at the path while `.1` exists and the container runs: an agent
   * died between the rename and the reopen, so conmon still writes to `.1`.
   * Ask again, unless a reopen of ours may still be on its way (a second
   * reopen would replace a new file that already holds lines).
   */
  private async repairLostReopen(c: RotatableLog, old: string): Promise<void> {
    if (!c.running) return;
    const sent = this.reopenedAt.get(c.id);
    if (sent !== undefined && Date.now() - sent < REOPEN_GRACE_MS) return;
    if ((await sizeOf(old)) === undefined) return;
    const control = await this.opts.openControl(c.id);
    if (!control) return;
    try {
      // Looked at again with the FIFO open: the reopen may have landed meanwhile.
      if ((await sizeOf(c.logPath)) !== undefined) return;
      this.reopenedAt.set(c.id, Date.now());
      await control.reopen();
      this.opts.logger?.info(
        { id: c.id, path: c.logPath },
        'log file missing after a rotation; asked conmon to reopen',
      );
    } finally {
      await control.close();
    }
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
