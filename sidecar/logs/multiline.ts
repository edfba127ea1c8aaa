import type { LinePattern } from './line-pattern.js';
import type { TailLine } from './tailer.js';

export interface MultilineOptions {
  /** A line matching this starts a new record; others are appended to the previous one. */
  start: LinePattern;
  /** Most lines in one group; past this the group is emitted (bounds memory on a runaway trace). */
  maxLines: number;
  /** Most bytes in one group. */
  maxBytes: number;
}

/**
 * Joins continuation lines (stack traces) onto the line that started them.
 * One joiner per stream: stdout and stderr lines interleave in one file and a
 * trace on stderr must not swallow stdout lines. Emission of a group waits for
 * the next start line or for `flush()` (the pipeline calls it after a quiet
 * period), so a group holds the file position back: `pendingStart()` tells the
 * pipeline not to commit past its first line.
 */
export class MultilineJoiner {
  private group: TailLine | undefined;
  private lines = 0;
  private bytes = 0;
  private since = 0;

  constructor(private readonly opts: MultilineOptions) {}

  /** Feeds one line; returns the groups it completed (zero or one, or two on overflow). */
  push(line: TailLine, now: number): TailLine[] {
    const out: TailLine[] = [];
    const isStart = this.opts.start.test(line.line.text);
    if (this.group && !isStart) {
      const b = Buffer.byteLength(line.line.text) + 1;
      if (this.lines + 1 <= this.opts.maxLines && this.bytes + b <= this.opts.maxBytes) {
        this.group = {
          ...this.group,
          line: { ...this.group.line, text: `${this.group.line.text}\n${line.line.text}` },
          end: line.end,
        };
        this.lines++;
        this.bytes += b;
        return out;
      }
    }
    const done = this.flush();
    if (done) out.push(done);
    this.group = line;
    this.lines = 1;
    this.bytes = Buffer.byteLength(line.line.text);
    this.since = now;
    return out;
  }

  /** Emits the pending group, if any. */
  flush(): TailLine | undefined {
    const g = this.group;
    this.group = undefined;
    this.lines = 0;
    this.bytes = 0;
    return g;
  }

  /** Wall-clock ms when the pending group began, or undefined. */
  pendingSince(): number | undefined {
    return this.group ? this.since : undefined;
  }

  /** File offset of the pending group's first byte, or undefined. */
  pendingStart(): number | undefined {
    return this.group?.start;
  }
}
