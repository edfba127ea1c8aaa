import type { RolloutProgress } from './contract.js';

/**
 * Rollout progress for people and for the event stream. The agent publishes
 * each RolloutProgress as an event (rolloutTopic); `berth up` / `berth
 * rollback` on the client follow `rollout.*` and draw them with
 * RolloutProgressPrinter. Pure formatting, no I/O of its own beyond the
 * stream it is given, so the CLI and tests use it alike.
 */

/** `rollout.progress` while running, `rollout.<phase>` once it ends or pauses. */
export function rolloutTopic(p: RolloutProgress): string {
  return p.phase === 'running' ? 'rollout.progress' : `rollout.${p.phase}`;
}

const WAITING: Record<NonNullable<RolloutProgress['waiting']>['for'], string> = {
  start: 'starting',
  ready: 'waiting for ready',
  monitor: 'monitoring',
  retire: 'draining and stopping',
};

const PHASE: Record<RolloutProgress['phase'], string> = {
  running: '',
  paused: 'paused',
  done: 'done',
  failed: 'FAILED',
  'rolled-back': 'ROLLED BACK',
};

/** One line: `web  update  old 2 → new 1  waiting for ready web-4`, or how it ended and why. */
export function formatRolloutProgress(p: RolloutProgress): string {
  const parts = [p.service, p.kind, `old ${p.oldCount} → new ${p.newCount}`];
  if (p.phase === 'running') {
    if (p.waiting) parts.push(`${WAITING[p.waiting.for]} ${p.waiting.name}`);
  } else {
    parts.push(PHASE[p.phase]);
  }
  if (p.failures > 0) parts.push(`${p.failures} failure${p.failures === 1 ? '' : 's'}`);
  if (p.reason !== undefined && p.phase !== 'done') parts.push(`(${p.reason})`);
  return parts.join('  ');
}

/** The part of a stream the printer needs (process.stderr fits). */
export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

/**
 * Draws progress. On a terminal each service keeps one line, redrawn in place
 * (the block of lines is moved over with ANSI cursor-up); elsewhere (a pipe, a
 * CI log) a line is printed only when it differs from that service's last.
 */
export class RolloutProgressPrinter {
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  constructor(private readonly out: ProgressStream) {}

  update(p: RolloutProgress): void {
    this.set(p.service, formatRolloutProgress(p));
  }

  /** Any line under a key (a service's convergence while no rollout of it runs, for `up --wait`). */
  set(key: string, line: string): void {
    if (this.lines.get(key) === line) return;
    this.lines.set(key, line);
    if (!this.out.isTTY) {
      this.out.write(`${line}\n`);
      return;
    }
    // Up over the block drawn last time, then redraw every line (clearing each first).
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of this.lines.values()) text += `\r\x1b[2K${l}\n`;
    this.drawn = this.lines.size;
    this.out.write(text);
  }
}
