import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../runtime/base/log.js';
import { emptyCounters, LogQueue, type LogQueueOptions } from './log-queue.js';
import { LogReader, type LogReaderOptions } from './log-reader.js';
import { LogSender, type LogSenderOptions } from './log-sender.js';
import type { PositionStore } from './positions.js';
import type { ContainerMeta } from './record.js';
import type { LogOutput } from './shipper.js';

export { emptyCounters, type LogCounters } from './log-queue.js';

export type ContainerLogOptions = LogReaderOptions & LogQueueOptions & LogSenderOptions;

/**
 * Shipping of one container's log file: tail → join → format → queue
 * (memory, overflowing to the disk spool) → output → position commit.
 *
 * Two loops that never wait on each other: the reader (log-reader.ts) polls
 * the file and enqueues (a slow or absent receiver never stops it: that is
 * what keeps a rotated-away file from being lost), the sender (log-sender.ts)
 * ships one batch at a time in order and commits the position of a batch's
 * last record only after the receiver acknowledged it; the queue between them
 * (log-queue.ts) holds records in memory or on disk. A position never passes
 * a line that is still being joined (a partial or a multiline group), so a
 * crash re-reads it whole.
 */
export class ContainerLog {
  readonly counters = emptyCounters();
  private readonly queue: LogQueue;
  private readonly reader: LogReader;
  private readonly sender: LogSender;

  constructor(
    readonly container: ContainerMeta,
    readonly path: string,
    opts: ContainerLogOptions,
    output: LogOutput,
    positions: PositionStore,
    spoolRoot: string,
    /** The files on disk the reader will read (the path's, and `.1` when kept): replay skips their records. */
    liveFiles: readonly { inode: number; fingerprint: string }[],
    logger?: Logger,
  ) {
    const position = positions.get(path);
    // Records of the files still on disk are re-read from them, so replay skips those files.
    this.queue = new LogQueue(
      path,
      join(spoolRoot, container.id),
      opts,
      positions,
      liveFiles,
      this.counters,
      () => this.sender.poke(),
      logger,
    );
    this.reader = new LogReader(container, path, opts, position, this.queue, this.counters, logger);
    this.sender = new LogSender(this.queue, output, opts, this.counters);
  }

  start(): void {
    this.reader.start();
    this.sender.start();
  }

  /** The inode of the log file the reader has open now. */
  readingInode(): number | undefined {
    return this.reader.readingInode();
  }

  get spooledBytes(): number {
    return this.queue.spooledBytes;
  }

  /** Records read but not yet acknowledged. */
  get backlog(): number {
    return this.queue.pending + this.sender.pending;
  }

  /**
   * Stops. Graceful: the in-flight batch may finish and the position store is
   * left to its owner to flush. `drain`: first read the file to its end, emit
   * pending groups and ship everything (container removed), bounded by `timeoutMs`.
   */
  async stop(opts: { graceful: boolean; drain?: boolean; timeoutMs?: number }): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    if (opts.drain) {
      await this.reader.drain();
      while (this.backlog > 0 && Date.now() < deadline) await sleep(20);
    }
    this.reader.stop(!opts.graceful);
    this.sender.stop(!opts.graceful);
    if (opts.graceful) {
      await Promise.race([
        Promise.all([this.reader.done, this.sender.done]),
        sleep(Math.max(0, deadline - Date.now())),
      ]);
    }
    await this.reader.closeFiles();
    // A clean shutdown keeps what is only in memory on disk too: if the file is
    // rotated away before the next start, the next run replays it from there.
    if (opts.graceful && !opts.drain) this.queue.saveMemory(this.sender.inflight.flat());
    this.queue.close(opts.drain === true && this.backlog === 0);
  }
}
