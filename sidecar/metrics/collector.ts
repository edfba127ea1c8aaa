// Over 400 lines: one scrape's steps (machine, containers in parallel, external families, self-metrics) share its bookkeeping; the collectors themselves are in collectors/.
import { InternalError, InvalidArgumentError, isNotFound } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';
import type { MetricsProvider } from '../types.js';
import { createCollectors } from './collectors/index.js';
import { checkExternalFamily, checkProviderName } from './external.js';
import { FAMILIES, type FamilyDef, INFO_FAMILY, SELF_FAMILIES } from './families.js';
import { allowlistedLabels, sortedLabels } from './labels.js';
import { OpenFiles } from './open-files.js';
import { createCgroupReader } from './reader.js';
import { formatLabels } from './registry.js';
import type { CgroupReader, Collector, Emit, FamilySamples, Roots, Snapshot } from './types.js';

export type { FamilySamples, Snapshot } from './types.js';

export interface MetricsCollectorOptions {
  source: ContainerSource;
  roots: Roots;
  logger: Logger;
  /** Container label keys exported as `container_label_<key>` (on berth_container_info). */
  labelsAllowlist?: readonly string[];
  /** Also put the allow-listed labels on every container series, as cAdvisor does. */
  labelsOnAllSeries?: boolean;
  /** Collector names to run (default: all). */
  collectors?: readonly string[];
  /** Containers read in parallel. */
  concurrency?: number;
  /** Seconds since the epoch; injectable so golden output is stable. */
  now?: () => number;
  /** The cgroup reader; detected from the roots on first scrape when absent. */
  reader?: CgroupReader;
  /**
   * Keep cgroup files open between scrapes and re-read them in place (default
   * true; see open-files.ts). Only applies to the reader detected here.
   */
  keepFilesOpen?: boolean;
}

type SkipReason = 'missing_file' | 'vanished' | 'error';
/** Samples of one container (or one source) before they are merged by family. */
class Sink {
  readonly metrics: string[] = [];
  readonly labels: string[] = [];
  readonly values: number[] = [];

  push(metric: string, labels: string, value: number): void {
    this.metrics.push(metric);
    this.labels.push(labels);
    this.values.push(value);
  }
}

const KNOWN_FAMILIES = new Set([...FAMILIES, INFO_FAMILY, ...SELF_FAMILIES].map((f) => f.name));

/** Per-scrape bookkeeping of the collector wrapper: time spent and failures, per collector. */
class ScrapeStats {
  readonly durationMs = new Map<string, number>();
  readonly failed = new Set<string>();
  /** Only the first failure per collector per scrape is logged, so a broken host does not flood the log. */
  private readonly logged = new Set<string>();

  constructor(private readonly logger: Logger) {}

  async time<T>(collector: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.durationMs.set(collector, (this.durationMs.get(collector) ?? 0) + (performance.now() - t0));
    }
  }

  fail(collector: string, err: unknown, container?: string): void {
    this.failed.add(collector);
    if (this.logged.has(collector)) return;
    this.logged.add(collector);
    this.logger.warn({ collector, container, err }, 'metrics collector failed');
  }
}

/**
 * Collects on demand: each `collect()` lists the source and reads every
 * container's cgroup once (no background polling, so an idle agent does no
 * work and every scrape is fresh). Containers are read in parallel up to
 * `concurrency`; one container's failures never fail the others, and a
 * vanished container or missing file never fails the scrape.
 */
export class MetricsCollector {
  private readonly collectors: Collector[];
  private readonly allowlist: readonly string[];
  private readonly onAllSeries: boolean;
  private readonly concurrency: number;
  private readonly now: () => number;
  private reader: CgroupReader | undefined;
  private readonly files: OpenFiles | undefined;
  /** Cumulative across scrapes: the counter behind berth_metrics_skipped_total. */
  private readonly skipped = new Map<string, { collector: string; reason: SkipReason; n: number }>();
  private scrapes = 0;
  /** Formatted label sets by container id (see containerLabels). */
  private readonly labelSets = new Map<string, ContainerLabels>();
  private readonly externals = new Map<string, MetricsProvider>();
  /** Families external providers have shown so far, with the provider that owns each. */
  private readonly externalDefs = new Map<string, FamilyDef & { owner: string }>();

  constructor(private readonly opts: MetricsCollectorOptions) {
    this.collectors = createCollectors(opts.collectors);
    this.allowlist = opts.labelsAllowlist ?? [];
    this.onAllSeries = opts.labelsOnAllSeries ?? false;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.reader = opts.reader;
    this.files = opts.keepFilesOpen === false ? undefined : new OpenFiles();
  }

  /** Closes the cgroup files kept open between scrapes (the next scrape opens them again). */
  release(): void {
    this.files?.close();
  }

  /**
   * Adds another component's metrics to every scrape (log shipping, DNS,
   * discovery, HAProxy): `provide` is called once per scrape and returns its
   * families with their samples. `name` appears as the `collector` label of
   * the self-metrics (duration, success). A provider that throws or returns
   * an invalid family marks itself failed for that scrape; the scrape goes on.
   * Returns a function that removes the provider.
   */
  registerExternal(name: string, provide: MetricsProvider): () => void {
    checkProviderName(name);
    if (this.externals.has(name) || this.collectors.some((c) => c.name === name) || name === 'source') {
      throw new InvalidArgumentError(
        `metrics external provider: ${JSON.stringify(name)} is already registered`,
        {
          field: 'name',
        },
      );
    }
    this.externals.set(name, provide);
    return () => {
      if (this.externals.get(name) === provide) this.externals.delete(name);
    };
  }

  /** Definitions of the external families seen so far (the server registers them for rendering). */
  externalFamilies(): readonly FamilyDef[] {
    return [...this.externalDefs.values()];
  }

  async collect(): Promise<Snapshot> {
    const started = performance.now();
    const stats = new ScrapeStats(this.opts.logger);
    const out = new Map<string, FamilySamples>();
    const append = (sink: Sink) => {
      const { metrics, labels, values } = sink;
      for (let i = 0; i < metrics.length; i++) {
        const metric = metrics[i] ?? '';
        let list = out.get(metric);
        if (!list) {
          list = { labels: [], values: [] };
          out.set(metric, list);
        }
        list.labels.push(labels[i] ?? '');
        list.values.push(values[i] ?? 0);
      }
    };

    append(await this.collectMachine(stats));
    const { containers, sourceOk } = await this.listContainers();
    const sinks = await this.collectContainers(containers, stats);
    // Files and label sets of containers that are gone (or were not read this time) are dropped now.
    this.files?.sweep();
    for (const [id, l] of this.labelSets) if (l.seen !== this.scrapes) this.labelSets.delete(id);
    for (const sink of sinks) append(sink);
    append(this.collectExternal(stats));

    this.scrapes++;
    append(this.selfMetrics(stats, sourceOk, sinks.length, started));
    return out;
  }

  /** Host-level collectors: they do not depend on the source. */
  private async collectMachine(stats: ScrapeStats): Promise<Sink> {
    const sink = new Sink();
    // Host series carry no container labels.
    const none: ContainerLabels = { sig: '', seen: 0, info: '', own: {}, base: '', merged: new Map() };
    for (const c of this.collectors) {
      if (c.scope !== 'machine') continue;
      const target = { roots: this.opts.roots, skip: () => this.countSkip(c.name, 'missing_file') };
      await stats.time(c.name, async () => {
        try {
          await c.update(target, emitter(none, sink));
        } catch (err) {
          this.countSkip(c.name, 'error');
          stats.fail(c.name, err);
        }
      });
    }
    return sink;
  }

  private async listContainers(): Promise<{ containers: ContainerDescriptor[]; sourceOk: boolean }> {
    try {
      // Only containers that have live cgroups: an exited one would count as vanished on every scrape.
      const containers = (await this.opts.source.list()).filter(
        (c) => c.cgroupPath !== undefined && (c.state === 'running' || c.state === 'paused'),
      );
      // Sorted so output order is stable whatever order the source lists in.
      containers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return { containers, sourceOk: true };
    } catch (err) {
      this.opts.logger.warn({ err }, 'metrics: listing containers failed');
      return { containers: [], sourceOk: false };
    }
  }

  /** One sink per container that was measured (vanished ones are left out), in id order. */
  private async collectContainers(containers: ContainerDescriptor[], stats: ScrapeStats): Promise<Sink[]> {
    const collectors = this.collectors.filter((c) => c.scope === 'container');
    if (containers.length === 0 || collectors.length === 0) return [];
    let reader: CgroupReader;
    try {
      reader = await this.getReader();
    } catch (err) {
      for (const c of collectors) {
        this.countSkip(c.name, 'error');
        stats.fail(c.name, err);
      }
      return [];
    }
    const sinks: (Sink | undefined)[] = containers.map(() => undefined);
    const now = this.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < containers.length; i = next++) {
        const c = containers[i];
        if (c) sinks[i] = await this.collectContainer(c, collectors, reader, now, stats);
        // Reads are synchronous (see fsread.ts): let other work run between containers.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, containers.length) }, worker));
    return sinks.filter((s): s is Sink => s !== undefined);
  }

  /** The container's samples, or undefined when it vanished mid-read. */
  private async collectContainer(
    c: ContainerDescriptor,
    collectors: Collector[],
    reader: CgroupReader,
    now: number,
    stats: ScrapeStats,
  ): Promise<Sink | undefined> {
    const cgroupPath = c.cgroupPath ?? '';
    const labels = this.containerLabels(c, cgroupPath);
    const sink = new Sink();
    sink.push(INFO_FAMILY.name, labels.info, 1);
    const emit = emitter(labels, sink);
    for (const col of collectors) {
      if (col.scope !== 'container') continue;
      const target = {
        container: c,
        cgroupPath,
        reader,
        roots: this.opts.roots,
        now,
        skip: () => this.countSkip(col.name, 'missing_file'),
      };
      const vanished = await stats.time(col.name, async () => {
        try {
          await col.update(target, emit);
        } catch (err) {
          if (isNotFound(err)) return true;
          this.countSkip(col.name, 'error');
          stats.fail(col.name, err, c.id);
        }
        return false;
      });
      if (vanished) {
        // Gone between list and read: not a failure, and its partial samples would mislead.
        this.countSkip(col.name, 'vanished');
        this.opts.logger.debug({ container: c.id, collector: col.name }, 'metrics: container vanished');
        return undefined;
      }
    }
    return sink;
  }

  /**
   * The container's label sets, formatted: kept across scrapes while its
   * labels stay the same (they almost never change), so a scrape formats
   * none of them for a container it has seen before.
   */
  private containerLabels(c: ContainerDescriptor, cgroupPath: string): ContainerLabels {
    let sig = `${cgroupPath}\0${c.image}\0${c.name}`;
    for (const key of this.allowlist) sig += `\0${c.labels[key] ?? ''}`;
    const cached = this.labelSets.get(c.id);
    if (cached !== undefined && cached.sig === sig) {
      cached.seen = this.scrapes;
      return cached;
    }
    const base: Record<string, string> = { id: cgroupPath, image: c.image, name: c.name };
    const allowed = allowlistedLabels(c, this.allowlist);
    const own = this.onAllSeries ? { ...base, ...allowed } : base;
    const entry: ContainerLabels = {
      sig,
      seen: this.scrapes,
      info: formatLabels(sortedLabels({ ...base, ...allowed })),
      own,
      base: formatLabels(sortedLabels(own)),
      merged: new Map(),
    };
    this.labelSets.set(c.id, entry);
    return entry;
  }

  private collectExternal(stats: ScrapeStats): Sink {
    const sink = new Sink();
    for (const [name, provide] of this.externals) {
      const t0 = performance.now();
      try {
        const families = provide();
        // Checked in full before any sample is kept: half a provider's families would mislead.
        for (const f of families) {
          if (KNOWN_FAMILIES.has(f.name)) {
            throw new InvalidArgumentError(
              `metrics external family ${f.name}: the name is a built-in family`,
              {
                field: 'name',
              },
            );
          }
          const owner = this.externalDefs.get(f.name)?.owner;
          if (owner !== undefined && owner !== name) {
            throw new InvalidArgumentError(
              `metrics external family ${f.name}: already provided by ${owner}`,
              {
                field: 'name',
              },
            );
          }
          checkExternalFamily(f, this.externalDefs);
        }
        for (const f of families) {
          if (!this.externalDefs.has(f.name)) {
            this.externalDefs.set(f.name, { name: f.name, type: f.type, help: f.help, owner: name });
          }
          for (const s of f.samples) sink.push(f.name, formatLabels(sortedLabels(s.labels)), s.value);
        }
      } catch (err) {
        this.countSkip(name, 'error');
        stats.fail(name, err);
      }
      stats.durationMs.set(name, performance.now() - t0);
    }
    return sink;
  }

  private selfMetrics(stats: ScrapeStats, sourceOk: boolean, measured: number, started: number): Sink {
    const sink = new Sink();
    const add = (metric: string, labels: Record<string, string>, value: number) =>
      sink.push(metric, formatLabels(labels), value);
    const names = [...this.collectors.map((c) => c.name), ...this.externals.keys()];
    for (const n of names) {
      add(
        'berth_metrics_collector_duration_seconds',
        { collector: n },
        (stats.durationMs.get(n) ?? 0) / 1000,
      );
    }
    for (const n of names) {
      add('berth_metrics_collector_success', { collector: n }, stats.failed.has(n) ? 0 : 1);
    }
    add('berth_metrics_collector_success', { collector: 'source' }, sourceOk ? 1 : 0);
    const skipped = [...this.skipped.values()].sort((a, b) =>
      `${a.collector}/${a.reason}` < `${b.collector}/${b.reason}` ? -1 : 1,
    );
    for (const s of skipped)
      add('berth_metrics_skipped_total', { collector: s.collector, reason: s.reason }, s.n);
    add('berth_metrics_scrape_duration_seconds', {}, (performance.now() - started) / 1000);
    add('berth_metrics_containers', {}, measured);
    add('berth_metrics_scrapes_total', {}, this.scrapes);
    return sink;
  }

  private async getReader(): Promise<CgroupReader> {
    if (!this.reader) this.reader = await createCgroupReader(this.opts.roots, this.files);
    return this.reader;
  }

  private countSkip(collector: string, reason: SkipReason): void {
    const key = `${collector}\0${reason}`;
    const e = this.skipped.get(key);
    if (e) e.n++;
    else this.skipped.set(key, { collector, reason, n: 1 });
  }
}

/** A container's label sets, formatted once and kept while they do not change. */
interface ContainerLabels {
  /** Everything the sets are made of: a change makes new ones. */
  sig: string;
  /** The scrape that last used them (unused ones are dropped). */
  seen: number;
  /** berth_container_info's labels. */
  info: string;
  /** The labels every series of the container carries, unformatted (merged with extra labels). */
  own: Record<string, string>;
  /** `own` formatted. */
  base: string;
  /** `own` plus extra labels (interface, device, cpu), formatted, by the extra labels. */
  merged: Map<string, string>;
}

/** An `emit` that adds the container's labels and checks the name against the family list. */
function emitter(l: ContainerLabels, sink: Sink): Emit {
  return (metric, labels, value) => {
    if (!KNOWN_FAMILIES.has(metric))
      throw new InternalError(`metrics: collector emitted unknown metric ${metric}`);
    let key = '';
    for (const k in labels) key += `${k}\0${labels[k]}\0`;
    if (key === '') {
      sink.push(metric, l.base, value);
      return;
    }
    // A few extra label sets repeat (8 network series per interface, 4 IO series per
    // device): each is merged, sorted and formatted once per container.
    let m = l.merged.get(key);
    if (m === undefined) {
      m = formatLabels(sortedLabels({ ...l.own, ...labels }));
      l.merged.set(key, m);
    }
    sink.push(metric, m, value);
  };
}
