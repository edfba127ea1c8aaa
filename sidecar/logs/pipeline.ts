import type { Logger } from '../../runtime/base/log.js';
import { ContainerInformer } from '../../runtime/source/informer.js';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';
import { ContainerLog, emptyCounters, type LogCounters } from './container-log.js';
import type { LinePattern } from './line-pattern.js';
import type { PositionStore } from './positions.js';
import { compileMultiline, compileTag, dockerFieldsFor, recordContainerName } from './record.js';
import type { LogOutput } from './shipper.js';
import { fileIdentity } from './tailer.js';

/** Container labels that steer shipping per container. */
export const LABEL_SHIP = 'berth.logs.ship';
export const LABEL_TAG = 'berth.logs.tag';
export const LABEL_MULTILINE = 'berth.logs.multiline';

export interface LogPipelineOptions {
  tag: string;
  host: string;
  labels: readonly string[];
  env: readonly string[];
  mergeJson: boolean;
  multilineStart?: string;
  multilineTimeoutMs: number;
  multilineMaxLines: number;
  maxLineBytes: number;
  batchRecords: number;
  batchBytes: number;
  pollIntervalMs: number;
  memoryBufferBytes: number;
  spoolMaxBytes: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** How long a removed container's remaining lines may take to ship. */
  drainTimeoutMs?: number;
  /** Records in Docker's fluentd-driver forms (record.ts, dockerFieldsFor): per source (`auto`), always, or never. */
  dockerFields?: 'auto' | 'always' | 'never';
}

export interface LogPipelineDeps {
  source: ContainerSource;
  output: LogOutput;
  positions: PositionStore;
  /** Root of the per-container disk spools. */
  spoolDir: string;
  options: LogPipelineOptions;
  logger?: Logger;
  /**
   * Called after each read of a container's log with the offset read up to
   * (berth's log rotation looks at the file then, not only on its timer).
   */
  onRead?: (containerId: string, offset: number) => void;
}

/** What the pipeline exports as metrics (per output: one pipeline has one output). */
export interface LogPipelineMetrics extends LogCounters {
  containers: number;
  spooledBytes: number;
  /** Records read but not yet acknowledged. */
  backlog: number;
  perContainer: Record<string, LogCounters & { name: string; spooledBytes: number; backlog: number }>;
  /** Failed Forward handshakes per receiver (`host:port`), when the output speaks it. */
  handshakeFailures?: Record<string, number>;
}

/**
 * Ships the logs of every container a `ContainerSource` reports: one
 * `ContainerLog` per running container with a log path, started on
 * `container.started` and drained then stopped on `container.removed`.
 * Opt out per container with the label `berth.logs.ship=false`; override the
 * tag with `berth.logs.tag` and the multiline start with `berth.logs.multiline`.
 */
export class LogPipeline {
  private readonly logs = new Map<string, ContainerLog>();
  /** Containers not shipped (label `berth.logs.ship=false`): their old log files are no one's to wait for. */
  private readonly unshipped = new Set<string>();
  private readonly finished = emptyCounters();
  private informer: ContainerInformer | undefined;
  private readonly defaultTag: ReturnType<typeof compileTag>;
  private readonly defaultMultiline: LinePattern | undefined;

  constructor(private readonly deps: LogPipelineDeps) {
    this.defaultTag = compileTag(deps.options.tag, 'logs.tag');
    this.defaultMultiline =
      deps.options.multilineStart !== undefined
        ? compileMultiline(deps.options.multilineStart, 'logs.multilineStart')
        : undefined;
  }

  /**
   * Starts shipping every container's log, stopped ones too (their last lines
   * may not be shipped yet, and a restart appends to the same file), and
   * follows the source through a ContainerInformer: subscribed before it
   * lists, so a container started meanwhile is not missed; a relist after a
   * lost subscription adds what was missed and drains what is gone. Resolves
   * once the listed containers are being read.
   */
  async start(): Promise<void> {
    const add = (c: ContainerDescriptor) => this.add(c);
    this.informer = new ContainerInformer(
      this.deps.source,
      // `created` already: the reader watches before conmon creates the file, so a first file
      // rotated away at once is not missed; `add` is idempotent and picks up a later logPath.
      { add, update: add, remove: (c) => this.remove(c.id) },
      { all: true, ...(this.deps.logger ? { logger: this.deps.logger } : {}) },
    );
    await this.informer.start();
  }

  /**
   * Stops every container's shipping. `graceful: false` simulates a crash:
   * nothing is flushed or waited for (tests of at-least-once delivery).
   */
  async stop(opts: { graceful?: boolean } = {}): Promise<void> {
    const graceful = opts.graceful ?? true;
    const following = this.informer?.close();
    const all = [...this.logs.values()];
    this.logs.clear();
    await Promise.all(all.map((l) => l.stop({ graceful })));
    for (const l of all) addCounters(this.finished, l.counters);
    if (graceful) {
      await following;
      await this.deps.positions.flush();
    }
  }

  metrics(): LogPipelineMetrics {
    const m: LogPipelineMetrics = {
      ...emptyCounters(),
      containers: this.logs.size,
      spooledBytes: 0,
      backlog: 0,
      perContainer: {},
      ...(this.deps.output.handshakeFailures
        ? { handshakeFailures: this.deps.output.handshakeFailures() }
        : {}),
    };
    addCounters(m, this.finished);
    for (const [id, l] of this.logs) {
      addCounters(m, l.counters);
      m.spooledBytes += l.spooledBytes;
      m.backlog += l.backlog;
      m.perContainer[id] = {
        ...l.counters,
        name: l.container.name,
        spooledBytes: l.spooledBytes,
        backlog: l.backlog,
      };
    }
    return m;
  }

  /** Starts shipping one container's log (idempotent). */
  async add(c: ContainerDescriptor): Promise<void> {
    if (this.logs.has(c.id) || !c.logPath) return;
    if (c.labels[LABEL_SHIP] === 'false') {
      if (!this.unshipped.has(c.id))
        this.deps.logger?.debug({ container: c.name }, 'log shipping disabled by label');
      this.unshipped.add(c.id);
      return;
    }
    const o = this.deps.options;
    let tag: string;
    let multiline: LinePattern | undefined;
    try {
      const tagLabel = c.labels[LABEL_TAG];
      tag = (tagLabel ? compileTag(tagLabel, `label ${LABEL_TAG}`) : this.defaultTag)(c);
      const ml = c.labels[LABEL_MULTILINE];
      multiline = ml ? compileMultiline(ml, `label ${LABEL_MULTILINE}`) : this.defaultMultiline;
    } catch (err) {
      // A bad label must not stop the container's logs: fall back to the defaults.
      this.deps.logger?.warn({ err, container: c.name }, 'bad log label; using the defaults');
      tag = this.defaultTag(c);
      multiline = this.defaultMultiline;
    }
    // The files the reader will read again: the one at the path, and `.1` for berth's rotation.
    const live = [
      await fileIdentity(c.logPath),
      c.source === 'berth' ? await fileIdentity(`${c.logPath}.1`) : undefined,
    ].filter((f) => f !== undefined);
    if (this.logs.has(c.id)) return;
    const docker = dockerFieldsFor(c, o.dockerFields ?? 'auto');
    const log = new ContainerLog(
      { ...c, name: recordContainerName(c.name, docker) },
      c.logPath,
      {
        format: {
          host: o.host,
          labels: o.labels,
          env: o.env,
          mergeJson: o.mergeJson,
          maxLineBytes: o.maxLineBytes,
          dockerPartial: docker,
        },
        tag,
        multiline: multiline
          ? { start: multiline, timeoutMs: o.multilineTimeoutMs, maxLines: o.multilineMaxLines }
          : undefined,
        batchRecords: o.batchRecords,
        batchBytes: o.batchBytes,
        pollIntervalMs: o.pollIntervalMs,
        memoryBufferBytes: o.memoryBufferBytes,
        spoolMaxBytes: o.spoolMaxBytes,
        retryMinMs: o.retryMinMs,
        retryMaxMs: o.retryMaxMs,
        logFormat: c.logFormat,
        // berth's own rotation keeps `<path>.1`: a restart resumes there (tailer.ts).
        ...(c.source === 'berth' ? { rotatedPath: `${c.logPath}.1` } : {}),
        ...(this.deps.onRead ? { onRead: this.deps.onRead } : {}),
      },
      this.deps.output,
      this.deps.positions,
      this.deps.spoolDir,
      live,
      this.deps.logger,
    );
    this.logs.set(c.id, log);
    log.start();
  }

  /**
   * Where shipping stands with `<logPath>.1`, for berth's log rotation
   * (runtime/exec/log-rotator.ts): `shipped` when every record of it is
   * acknowledged (the committed position is on the file at the path, or at
   * the end of `.1`) or the container is not shipped; `reading` while the
   * reader has it open; else `pending` (also for a container not followed
   * yet: waiting is safe, the rotator's cap bounds it).
   */
  async oldFileState(c: { id: string; logPath: string }): Promise<'shipped' | 'reading' | 'pending'> {
    if (this.unshipped.has(c.id)) return 'shipped';
    const log = this.logs.get(c.id);
    if (!log) return 'pending';
    const old = await fileIdentity(`${c.logPath}.1`);
    if (!old) return 'shipped';
    const pos = this.deps.positions.get(c.logPath);
    const same = (f: { inode: number; fingerprint: string } | undefined) =>
      pos !== undefined &&
      f !== undefined &&
      f.inode === pos.inode &&
      (pos.fingerprint === undefined || pos.fingerprint === f.fingerprint);
    if (same(await fileIdentity(c.logPath))) return 'shipped';
    if (same(old) && pos !== undefined && pos.offset >= old.size) return 'shipped';
    return log.readingInode() === old.inode ? 'reading' : 'pending';
  }

  /** Ships what is left of a removed container's log, then forgets it. */
  async remove(id: string): Promise<void> {
    this.unshipped.delete(id);
    const log = this.logs.get(id);
    if (!log) return;
    this.logs.delete(id);
    await log.stop({ graceful: true, drain: true, timeoutMs: this.deps.options.drainTimeoutMs ?? 10_000 });
    addCounters(this.finished, log.counters);
    if (log.backlog === 0) this.deps.positions.remove(log.path);
  }
}

function addCounters(into: LogCounters, from: LogCounters): void {
  into.linesRead += from.linesRead;
  into.recordsShipped += from.recordsShipped;
  into.batchesRetried += from.batchesRetried;
  into.recordsDropped += from.recordsDropped;
  into.recordsSpooled += from.recordsSpooled;
  into.malformedLines += from.malformedLines;
  into.rotations += from.rotations;
  into.readerPauses += from.readerPauses;
}
