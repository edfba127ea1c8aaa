import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, NotFoundError } from '../../base/errors.js';
import { type Envelope, EventExchange, type SubscribeOptions } from '../../base/events.js';
import type { Logger } from '../../base/log.js';
import { detectCgroups } from '../../cgroups/detect.js';
import { K8sLogReader } from '../../exec/logfile.js';
import type { LogLine, LogQuery } from '../../runtime.js';
import type { ContainerDescriptor, ContainerEvent, ContainerSource, RuntimeEvent } from '../../types.js';
import { type BundleMeta, containerdNamespaces, readBundleMeta } from './bundle.js';
import { type CriMeta, type PodMeta, readCriLayout } from './cri.js';
import { describeContainer } from './describe.js';
import { type DockerMeta, listDockerIds, readDockerMeta } from './docker.js';
import type { CgroupMatch } from './layout.js';
import { observedLogFiles } from './logs.js';
import { cgroupOfPid } from './pids.js';
import { openUnder, readBounded } from './safe-read.js';
import { scanHierarchy } from './scan.js';

/** Where the host's files are, as this process sees them (a DaemonSet mounts them under /host). */
export interface ObserveRoots {
  /** The host's /proc (its PID 1's mount table says where the cgroup hierarchies are). */
  proc: string;
  /** The host's /sys/fs/cgroup. */
  cgroup: string;
  /** Docker's data root (`/var/lib/docker`). */
  docker: string;
  /** The host's /var/log (the kubelet's pods/ and containers/). */
  log: string;
  /** The host's /run, where containerd and CRI-O keep their containers' bundles (bundle.ts); optional. */
  run?: string;
}

export interface ObserveSourceOptions {
  roots: ObserveRoots;
  /** Full rescan period, the fallback for what inotify misses (default 5 s). */
  rescanIntervalMs?: number;
  /** Quiet time after a watched directory changed before the rescan (default 100 ms). */
  debounceMs?: number;
  /**
   * How long a container cgroup with no metadata yet (no Docker record, no
   * kubelet log link) waits before it is announced as a bare cgroup: the
   * engines write their records at create, the cgroup comes at start, so
   * this only holds back what has none (default 1 s).
   */
  metadataGraceMs?: number;
  /** Cgroup parents whose containers are not observed (default `/berth`: berth's own runtime reports those). */
  skipCgroupParents?: readonly string[];
  /** Most containers tracked, and most entries read per metadata directory (default 5000). */
  maxContainers?: number;
  /** Most cgroup directories read per scan (default 20000). */
  maxCgroupDirs?: number;
  /** Most directories watched with inotify (default 1024; the periodic rescan covers the rest). */
  maxWatches?: number;
  /** Watch with inotify (default true); off, the periodic rescan alone finds changes. */
  watch?: boolean;
  logger?: Logger;
}

const RUNNING = new Set(['running', 'paused', 'restarting']);

/**
 * A ContainerSource for containers berth did not start (observe mode):
 * container cgroups found under the layouts of Docker, containerd, CRI-O and
 * the kubelet (layout.ts), described from what the host keeps about them
 * (Docker's records, the kubelet's log layout), announced with the events
 * berth's runtime publishes as they appear and vanish.
 *
 * Change detection: inotify (node's fs.watch) on the cgroup directories a
 * scan read and on the metadata directories, each change debounced into one
 * rescan; plus a periodic rescan that bounds what a missed event (a full
 * inotify queue, a directory past `maxWatches`) can delay. A rescan is the
 * only writer of the state, one at a time, so events come in order.
 */
export class ObserveSource implements ContainerSource {
  private readonly exchange = new EventExchange<RuntimeEvent>();
  private current = new Map<string, ContainerDescriptor>();
  /** Container cgroups without metadata yet: first seen at (ms). */
  private readonly pending = new Map<string, number>();
  private readonly dockerCache = new Map<string, { key: string; meta: DockerMeta | undefined }>();
  private readonly pids = new Map<string, number>();
  private readonly criLinks = new Map<string, CriMeta>();
  /** Bundle annotations per running container (null: none), read once: a bundle does not change. */
  private readonly bundles = new Map<string, BundleMeta | null>();
  private readonly watchers = new Map<string, FSWatcher>();
  private hierarchy = '';
  /** The v1 controller of the scanned hierarchy ('' for the unified one). */
  private controller = '';
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly o: Required<Omit<ObserveSourceOptions, 'logger'>> & { logger?: Logger };
  /** Scans done (tests and self-metrics). */
  scans = 0;
  /** Lines of observed containers' log files skipped as malformed by `logs` (each read also logs its count). */
  malformedLogLines = 0;
  private readonly logReader = new K8sLogReader();

  constructor(opts: ObserveSourceOptions) {
    this.o = {
      rescanIntervalMs: 5000,
      debounceMs: 100,
      metadataGraceMs: 1000,
      skipCgroupParents: ['/berth'],
      maxContainers: 5000,
      maxCgroupDirs: 20_000,
      maxWatches: 1024,
      watch: true,
      ...opts,
    };
  }

  /** Finds the hierarchy to scan, scans once (so `list` answers at once), then follows. */
  async start(): Promise<void> {
    const info = detectCgroups({ proc: this.o.roots.proc, cgroup: this.o.roots.cgroup }, { view: 'host' });
    // One hierarchy tells which containers exist; the metrics sidecar reads every controller itself.
    const v1 = info.v1Controllers;
    const dir =
      info.version === 'v2'
        ? info.unifiedMount
        : (v1.memory ?? v1.cpu ?? v1.cpuacct ?? v1.pids ?? v1['name=systemd'] ?? info.unifiedMount);
    if (dir === undefined) throw new NotFoundError(`no cgroup hierarchy found under ${this.o.roots.cgroup}`);
    this.hierarchy = dir;
    // Which line of /proc/<pid>/cgroup names a process's cgroup in that hierarchy.
    this.controller =
      dir === info.unifiedMount ? '' : (Object.entries(v1).find(([, mount]) => mount === dir)?.[0] ?? '');
    await this.rescan();
    this.timer = setInterval(() => void this.rescan(), this.o.rescanIntervalMs);
    this.timer.unref();
    if (this.o.watch) {
      for (const d of [
        join(this.o.roots.docker, 'containers'),
        join(this.o.roots.log, 'containers'),
        join(this.o.roots.log, 'pods'),
      ]) {
        this.watchDir(d);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.running;
  }

  /** The hierarchy scanned for containers (absolute). */
  get scannedHierarchy(): string {
    return this.hierarchy;
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerDescriptor[]> {
    return [...this.current.values()]
      .filter((c) => opts.all === true || RUNNING.has(c.state))
      .map((c) => ({ ...c }));
  }

  async get(idOrName: string): Promise<ContainerDescriptor> {
    const all = [...this.current.values()];
    const hit =
      all.find((c) => c.id === idOrName || c.name === idOrName) ??
      (() => {
        const byPrefix = all.filter((c) => idOrName.length >= 3 && c.id.startsWith(idOrName));
        return byPrefix.length === 1 ? byPrefix[0] : undefined;
      })();
    if (!hit) throw new NotFoundError(`container "${idOrName}" not found`);
    return { ...hit };
  }

  /**
   * An observed container's output, as `berth logs` reads berth's own
   * (README.md, "Logs"): Docker's json-file log after its rotated files, or
   * the kubelet's CRI log after its rotated ones, read-only, every file
   * opened only when its real path stays in its root. Resolves once the
   * container and a file are found, so a caller can answer before streaming;
   * FailedPrecondition naming the container and why when it has no file
   * berth can read, NotFound when no observed container has that name.
   */
  async logs(idOrName: string, query: LogQuery): Promise<AsyncIterable<LogLine>> {
    const d = await this.get(idOrName);
    const f = await observedLogFiles(d, this.o.roots);
    const open = (p: string) => openUnder(f.root, p);
    const who = `${d.name} (${d.id.slice(0, 12)})`;
    // Every file checked now, so that one out of its root is refused before any line, naming why.
    let found = false;
    for (const p of [f.path, ...f.older]) {
      const h = await open(p).catch((err: unknown) => {
        throw new FailedPreconditionError(`cannot read the logs of ${who}: ${(err as Error).message}`);
      });
      await h?.close();
      if (h) found = true;
    }
    if (!found) {
      throw new FailedPreconditionError(
        `cannot read the logs of ${who}: its log file ${f.path} is not there`,
      );
    }
    // As for berth's own: following ends when the container dies (one not running is read to its end).
    const follow = query.follow === true && RUNNING.has(d.state);
    const stop = new AbortController();
    query.signal?.addEventListener('abort', () => stop.abort(), { once: true });
    const died = new AbortController();
    if (follow) {
      const ends = this.exchange.subscribe({
        topics: ['container.died', 'container.removed'],
        signal: stop.signal,
      });
      void (async () => {
        for await (const env of ends) {
          if ((env.event as ContainerEvent).container?.id === d.id) return died.abort();
        }
      })().catch(() => {});
    }
    const signal = AbortSignal.any(query.signal ? [query.signal, died.signal] : [died.signal]);
    let skipped = 0;
    const lines = this.logReader.read(
      f.path,
      { ...query, follow, signal },
      {
        format: f.format,
        older: f.older,
        open,
        onMalformed: () => {
          skipped++;
          this.malformedLogLines++;
        },
      },
    );
    const logger = this.o.logger;
    return (async function* () {
      try {
        yield* lines;
      } finally {
        stop.abort();
        if (skipped > 0)
          logger?.warn({ container: d.name, id: d.id, skipped }, 'observe: malformed log lines skipped');
      }
    })();
  }

  events(opts?: SubscribeOptions): AsyncIterable<Envelope<RuntimeEvent>> {
    return this.exchange.subscribe(opts);
  }

  /** Scans now (or once more after the scan in progress); resolves when the state is current. */
  rescan(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.scanOnce();
        } catch (err) {
          this.o.logger?.warn({ err }, 'observe: scan failed; the next one retries');
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private soon(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), this.o.debounceMs);
    this.debounce.unref();
  }

  private watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.watchers.size >= this.o.maxWatches) return;
    try {
      const w = watch(dir, () => this.soon());
      // A directory that goes away ends its watch; the periodic rescan goes on.
      w.on('error', () => {
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    } catch {
      // Not there (yet), or out of inotify watches: the periodic rescan covers it.
    }
  }

  private async scanOnce(): Promise<void> {
    const limit = this.o.maxContainers;
    const [scan, dockerIds, cri] = await Promise.all([
      scanHierarchy(this.hierarchy, {
        maxDepth: 6,
        maxDirs: this.o.maxCgroupDirs,
        skip: this.o.skipCgroupParents,
      }),
      listDockerIds(this.o.roots.docker, limit),
      readCriLayout(this.o.roots.log, limit, this.criLinks),
    ]);
    this.scans++;
    if (scan.truncated)
      this.o.logger?.warn({ maxDirs: this.o.maxCgroupDirs }, 'observe: cgroup scan cut short');
    if (this.o.watch && !this.closed) this.syncWatches(scan.dirs.map((d) => join(this.hierarchy, d)));
    const ids = new Set<string>([...scan.containers.keys(), ...dockerIds, ...cri.containers.keys()]);
    const inDocker = new Set(dockerIds);
    const run = this.o.roots.run;
    const namespaces = run ? await containerdNamespaces(run) : [];
    const next = new Map<string, ContainerDescriptor>();
    const now = Date.now();
    let n = 0;
    for (const id of ids) {
      if (n++ >= limit) break;
      let cg = scan.containers.get(id);
      // Only ids with a directory in Docker's root have records: no stat per container on a kubelet host.
      const docker = inDocker.has(id) ? await this.docker(id) : undefined;
      // A Docker container under a --cgroup-parent no layout names: found through its init's /proc/<pid>/cgroup.
      if (!cg && docker?.pid !== undefined) cg = await this.cgroupOfPid(id, docker.pid);
      const c = cri.containers.get(id);
      const bundle = cg && !docker && run ? await this.bundle(run, id, namespaces) : undefined;
      const podUid = cg?.match.podUid ?? c?.podUid ?? bundle?.podUid;
      const pod = podUid !== undefined ? cri.pods.get(podUid) : undefined;
      if (cg && !docker && !c && !pod && !bundle && !this.current.has(id)) {
        // A bare cgroup: its engine may not have written its records yet.
        const since = this.pending.get(id) ?? now;
        this.pending.set(id, since);
        if (now - since < this.o.metadataGraceMs) {
          setTimeout(() => this.soon(), this.o.metadataGraceMs).unref();
          continue;
        }
      }
      this.pending.delete(id);
      if (!cg && !docker && !c) continue;
      next.set(id, await this.describe(id, cg, docker, c, pod, bundle));
    }
    for (const id of this.pending.keys()) if (!scan.containers.has(id)) this.pending.delete(id);
    for (const id of this.dockerCache.keys()) if (!ids.has(id)) this.dockerCache.delete(id);
    for (const id of this.bundles.keys()) if (!scan.containers.has(id)) this.bundles.delete(id);
    this.publishDiff(next);
  }

  private publishDiff(next: Map<string, ContainerDescriptor>): void {
    const prev = this.current;
    this.current = next;
    for (const [id, c] of next) {
      const was = prev.get(id);
      const runs = RUNNING.has(c.state);
      if (!was) {
        this.publish('container.created', { ...c, state: runs ? 'created' : c.state });
        if (runs) this.publish('container.started', c);
      } else if (RUNNING.has(was.state) && !runs) {
        this.publish('container.died', c, c.exitCode !== undefined ? { exitCode: c.exitCode } : {});
      } else if (!RUNNING.has(was.state) && runs) {
        this.publish('container.started', c);
      }
    }
    for (const [id, was] of prev) {
      if (next.has(id)) continue;
      this.pids.delete(id);
      if (RUNNING.has(was.state)) {
        const died: ContainerDescriptor = { ...was, state: 'exited', finishedAt: new Date().toISOString() };
        delete died.pid;
        this.publish('container.died', died);
      }
      this.publish('container.removed', { ...was, state: 'removing' });
    }
  }

  private publish(topic: string, c: ContainerDescriptor, extra: Partial<ContainerEvent> = {}): void {
    this.exchange.publish(topic, { container: c, ...extra });
  }

  /** Docker's records of `id`, re-read only when config.v2.json changed. */
  private async docker(id: string): Promise<DockerMeta | undefined> {
    const file = join(this.o.roots.docker, 'containers', id, 'config.v2.json');
    let key: string;
    try {
      const st = await stat(file);
      key = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      this.dockerCache.delete(id);
      return undefined;
    }
    const hit = this.dockerCache.get(id);
    if (hit?.key === key) return hit.meta;
    const meta = await readDockerMeta(this.o.roots.docker, id);
    this.dockerCache.set(id, { key, meta });
    return meta;
  }

  private async describe(
    id: string,
    cg: { path: string; match: CgroupMatch } | undefined,
    docker: DockerMeta | undefined,
    cri: CriMeta | undefined,
    pod: PodMeta | undefined,
    bundle: BundleMeta | undefined,
  ): Promise<ContainerDescriptor> {
    const createdAt = this.current.get(id)?.createdAt ?? new Date().toISOString();
    const d = describeContainer({ id, cgroup: cg, docker, cri, pod, bundle, createdAt });
    if (cg) {
      const pid = docker?.pid ?? (await this.pidOf(id, cg.path));
      if (pid !== undefined) d.pid = pid;
    }
    return d;
  }

  private cgroupOfPid(id: string, pid: number): Promise<{ path: string; match: CgroupMatch } | undefined> {
    return cgroupOfPid(
      { proc: this.o.roots.proc, hierarchy: this.hierarchy, controller: this.controller },
      id,
      pid,
    );
  }

  private async bundle(
    run: string,
    id: string,
    namespaces: readonly string[],
  ): Promise<BundleMeta | undefined> {
    let b = this.bundles.get(id);
    if (b === undefined) {
      b = (await readBundleMeta(run, id, namespaces)) ?? null;
      this.bundles.set(id, b);
    }
    return b ?? undefined;
  }

  /** The first process of a container cgroup (its init, as runc starts it), remembered. */
  private async pidOf(id: string, path: string): Promise<number | undefined> {
    const known = this.pids.get(id);
    if (known !== undefined) return known;
    const text = await readBounded(this.hierarchy, join(this.hierarchy, path, 'cgroup.procs'), 64 * 1024);
    const first = Number(text?.split('\n', 1)[0]);
    if (!Number.isInteger(first) || first <= 0) return undefined;
    this.pids.set(id, first);
    return first;
  }

  private syncWatches(dirs: string[]): void {
    const keep = new Set(dirs);
    const meta = [
      join(this.o.roots.docker, 'containers'),
      join(this.o.roots.log, 'containers'),
      join(this.o.roots.log, 'pods'),
    ];
    for (const m of meta) keep.add(m);
    for (const [d, w] of this.watchers) {
      if (!keep.has(d)) {
        w.close();
        this.watchers.delete(d);
      }
    }
    for (const d of dirs) this.watchDir(d);
    for (const m of meta) this.watchDir(m);
  }
}
