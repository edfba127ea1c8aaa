// One class on purpose: the loop, its per-project lock and the executor of the plan share their state.
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../../runtime/base/errors.js';
import { KeyedMutex } from '../../runtime/base/keyed-mutex.js';
import type { Logger } from '../../runtime/base/log.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { ContainerEvent } from '../../runtime/types.js';
import type { Replica, RolloutOptions, RolloutProgress, RolloutState, ServiceRevision } from './contract.js';
import { BERTH } from './labels.js';
import { locator } from './locate.js';
import { plan } from './plan.js';
import { actualReplicas, desiredServices } from './project-state.js';
import type { ReadinessGate } from './readiness.js';
import { type ProjectNetworks, type ReplicaRuntime, RuntimeReplicaOps } from './replica-ops.js';
import type { ProjectStore } from './store.js';
import type { Action, ActualReplica, ProjectRecord } from './types.js';

/** The rolling update as the reconciler calls it (src/deploy/rollout.ts). */
export interface RolloutEngine {
  rollout(opts: RolloutOptions): Promise<RolloutState>;
  newState(args: {
    kind: RolloutState['kind'];
    from: ServiceRevision;
    to: ServiceRevision;
    replicas: number;
  }): RolloutState;
}

export interface ReconcilerDeps {
  runtime: ReplicaRuntime & Pick<Runtime, 'events'>;
  store: ProjectStore;
  readiness: ReadinessGate;
  networks?: ProjectNetworks;
  /** Absent: a changed service is recreated stop-first, one replica at a time. */
  rollouts?: RolloutEngine;
  /** Events on the exchange under `project.*`. */
  publish(topic: string, event: Record<string, unknown>): void;
  logger: Logger;
  /** Periodic resync (default 10 s): drift nobody sent an event for is repaired within it. */
  resyncMs?: number;
}

/** Replicas started at once in one pass. */
const START_CONCURRENCY = 4;

/** Runs `fn` over `items`, at most `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Replacing a replica that keeps dying backs off: 1 s doubling to 30 s per replica index. */
const REPLACE_BACKOFF_MS = [1000, 30_000] as const;

/**
 * Converges each project's replicas on its desired state: event-driven (any
 * `container.*` event of a project's replica schedules that project) plus a
 * periodic resync. One convergence per project at a time (a keyed lock);
 * a request that arrives meanwhile runs once more after it. Rollouts run in
 * the background, own their service meanwhile, and save their state in the
 * project's record before each step, so a restarted agent resumes them.
 */
export class Reconciler {
  readonly records = new Map<string, ProjectRecord>();
  private readonly lock = new KeyedMutex<string>();
  private readonly pending = new Set<string>();
  private readonly rolling = new Map<string, { ac: AbortController; done: Promise<void> }>();
  readonly progress = new Map<string, Map<string, RolloutProgress>>();
  readonly serviceErrors = new Map<string, Map<string, { message: string; at: string }>>();
  private readonly backoff = new Map<string, { attempts: number; notBefore: number }>();
  private readonly ac = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: ReconcilerDeps) {}

  async start(): Promise<void> {
    for (const rec of await this.d.store.list()) this.records.set(rec.name, rec);
    void this.follow();
    this.timer = setInterval(() => {
      for (const name of this.records.keys()) this.schedule(name);
    }, this.d.resyncMs ?? 10_000);
    this.timer.unref();
    for (const name of this.records.keys()) this.schedule(name);
  }

  async close(): Promise<void> {
    this.ac.abort();
    if (this.timer) clearInterval(this.timer);
    for (const r of this.rolling.values()) r.ac.abort();
    await Promise.allSettled([...this.rolling.values()].map((r) => r.done));
  }

  /** Subscribes to container events: a replica of a project that changed schedules that project. */
  private async follow(): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        for await (const env of this.d.runtime.events({ topics: ['container.*'], signal: this.ac.signal })) {
          const c = (env.event as ContainerEvent).container;
          const project = c?.labels[BERTH.project];
          if (project !== undefined && this.records.has(project)) this.schedule(project);
        }
      } catch (err) {
        // Fell behind the exchange's buffer: a resync of everything stands in for what was missed.
        this.d.logger.warn({ err: messageOf(err) }, 'reconciler: event subscription lost; resyncing');
        for (const name of this.records.keys()) this.schedule(name);
      }
      if (!this.ac.signal.aborted)
        await sleep(100, undefined, { signal: this.ac.signal }).catch(() => undefined);
    }
  }

  /** Runs a convergence of `name` soon (coalesced: many events → one more pass). */
  schedule(name: string): void {
    if (this.ac.signal.aborted) return;
    if (this.pending.has(name)) return;
    this.pending.add(name);
    void this.lock.run(name, async () => {
      this.pending.delete(name);
      const t0 = Date.now();
      await this.converge(name).catch((err: unknown) => {
        this.d.logger.error({ project: name, err: messageOf(err) }, 'reconciler: convergence failed');
        this.noteError(name, undefined, messageOf(err));
      });
      const ms = Date.now() - t0;
      if (ms > 10_000) this.d.logger.warn({ project: name, ms }, 'reconciler: a slow convergence pass');
    });
  }

  /** Waits for the convergences queued for `name` so far. */
  settle(name: string): Promise<void> {
    return this.lock.run(name, () => undefined);
  }

  /** Runs `fn` under the project's lock (apply, down, scale change the record there). */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(name, fn);
  }

  async actual(name: string): Promise<ActualReplica[]> {
    return actualReplicas(await this.d.runtime.list({ all: true }), name);
  }

  opsFor(rec: ProjectRecord): RuntimeReplicaOps {
    return new RuntimeReplicaOps({
      runtime: this.d.runtime,
      readiness: this.d.readiness,
      project: () => (this.records.get(rec.name) ?? rec).project,
      locate: locator(rec.source.files.map((f) => ({ file: f.path, text: f.content }))),
      ...(this.d.networks ? { networks: this.d.networks } : {}),
    });
  }

  private async converge(name: string): Promise<void> {
    const rec = this.records.get(name);
    if (rec === undefined || this.ac.signal.aborted) return;
    const actual = await this.actual(name);
    for (const [service, st] of Object.entries(rec.rollouts)) {
      if (st.phase === 'running' && !this.rolling.has(`${name}/${service}`)) {
        this.startRollout(
          rec,
          st,
          // A replica being removed is no longer the rollout's to count or retire.
          actual.filter((r) => r.service === service && r.state !== 'removing'),
        );
      }
    }
    const rolling = new Set(
      Object.keys(rec.project.services).filter(
        (s) => this.rolling.has(`${name}/${s}`) || rec.rollouts[s]?.phase === 'paused',
      ),
    );
    const actions = plan({
      desired: desiredServices(rec),
      actual,
      removeOrphans: rec.removeOrphans,
      rolling,
    });
    const ops = this.opsFor(rec);
    const step = async (a: Action) => {
      try {
        await this.execute(rec, ops, a);
      } catch (err) {
        this.d.logger.warn(
          { project: name, service: a.service, action: a.kind, err: messageOf(err) },
          'reconciler: step failed',
        );
        this.noteError(name, a.service, `${a.kind}: ${messageOf(err)}`);
      }
    };
    // Removals run together (each waits out a drain and a stop grace period). Creates and
    // replacements are planned only for services whose dependencies are met now, so they may
    // run side by side too (a few at a time: each is an image unpack, a netns and a runc start);
    // dependents wait for the next pass, which their dependencies' events bring.
    await Promise.all(actions.filter((a) => a.kind === 'remove').map(step));
    await pool(
      actions.filter((a) => a.kind === 'create' || a.kind === 'replace'),
      START_CONCURRENCY,
      (a) => (this.ac.signal.aborted ? Promise.resolve() : step(a)),
    );
    for (const a of actions) {
      if (this.ac.signal.aborted) return;
      if (a.kind === 'rollout' || a.kind === 'recheck' || a.kind === 'wait') await step(a);
    }
  }

  private async execute(rec: ProjectRecord, ops: RuntimeReplicaOps, a: Action): Promise<void> {
    const signal = this.ac.signal;
    const rev = rec.revisions[a.service]?.current;
    switch (a.kind) {
      case 'wait':
        return;
      case 'recheck':
        setTimeout(() => this.schedule(rec.name), a.afterMs + 50).unref();
        return;
      case 'create': {
        if (rev === undefined) return;
        const r = await ops.start(rev, a.index, signal);
        this.clearError(rec.name, a.service);
        this.d.publish('project.replica.started', { project: rec.name, service: a.service, replica: r });
        return;
      }
      case 'replace': {
        if (rev === undefined) return;
        const key = `${rec.name}/${a.service}/${a.replica.index}`;
        const b = this.backoff.get(key);
        if (b !== undefined && Date.now() < b.notBefore) {
          setTimeout(() => this.schedule(rec.name), b.notBefore - Date.now() + 10).unref();
          return;
        }
        const attempts = (b?.attempts ?? 0) + 1;
        const delay = Math.min(REPLACE_BACKOFF_MS[1], REPLACE_BACKOFF_MS[0] * 2 ** (attempts - 1));
        this.backoff.set(key, { attempts, notBefore: Date.now() + delay });
        await ops.retire(a.replica, signal);
        const r = await ops.start(rev, a.replica.index, signal);
        this.noteError(rec.name, a.service, `${a.replica.name} replaced: ${a.reason}`);
        this.d.publish('project.replica.replaced', {
          project: rec.name,
          service: a.service,
          old: { id: a.replica.id, name: a.replica.name },
          replica: r,
          reason: a.reason,
        });
        return;
      }
      case 'remove':
        await ops.retire(a.replica, signal);
        this.d.publish('project.replica.removed', {
          project: rec.name,
          service: a.service,
          replica: { id: a.replica.id, name: a.replica.name, index: a.replica.index },
          reason: a.reason,
        });
        return;
      case 'rollout': {
        if (rev === undefined) return;
        const revs = rec.revisions[a.service];
        const staleHash = a.stale[0]?.configHash ?? '';
        const from: ServiceRevision =
          revs?.previous !== undefined && revs.previous.configHash === staleHash
            ? revs.previous
            : { service: rev.service, configHash: staleHash };
        const replicas = rec.scale[a.service] ?? rev.service.deploy.replicas;
        const actual = (await this.actual(rec.name)).filter(
          (r) => r.service === a.service && r.state !== 'exited' && r.state !== 'removing',
        );
        if (this.d.rollouts === undefined) {
          await this.recreate(rec, ops, rev, a.stale);
          return;
        }
        const st = this.d.rollouts.newState({ kind: 'update', from, to: rev, replicas });
        rec.rollouts[a.service] = st;
        await this.d.store.save(rec);
        this.startRollout(rec, st, actual);
        return;
      }
    }
  }

  /** Stop-first, one at a time: what a changed service gets without the rolling update engine. */
  private async recreate(
    rec: ProjectRecord,
    ops: RuntimeReplicaOps,
    rev: ServiceRevision,
    stale: ActualReplica[],
  ): Promise<void> {
    for (const r of stale) {
      await ops.retire(r, this.ac.signal);
      await ops.start(rev, r.index, this.ac.signal);
      this.d.publish('project.replica.replaced', {
        project: rec.name,
        service: rev.service.name,
        old: { id: r.id, name: r.name },
        reason: 'config changed',
      });
    }
  }

  /** Runs a rollout in the background; its end schedules the project again. */
  startRollout(rec: ProjectRecord, state: RolloutState, current: Replica[]): void {
    const engine = this.d.rollouts;
    if (engine === undefined) return;
    const key = `${rec.name}/${state.service}`;
    if (this.rolling.has(key)) return;
    const ac = new AbortController();
    const progress = this.progress.get(rec.name) ?? new Map<string, RolloutProgress>();
    this.progress.set(rec.name, progress);
    const save = async (st: RolloutState) => {
      const r = this.records.get(rec.name);
      if (r === undefined) return;
      r.rollouts[st.service] = st;
      await this.d.store.save(r);
    };
    const done = (async () => {
      try {
        const end = await engine.rollout({
          current,
          state,
          ops: this.opsFor(rec),
          save,
          onProgress: (p) => {
            progress.set(p.service, p);
            this.d.publish('project.rollout', { project: rec.name, ...p });
          },
          signal: AbortSignal.any([ac.signal, this.ac.signal]),
        });
        await this.exclusive(rec.name, () => this.rolloutEnded(rec.name, end));
      } catch (err) {
        if (!ac.signal.aborted && !this.ac.signal.aborted) {
          this.noteError(rec.name, state.service, `rollout: ${messageOf(err)}`);
        }
      } finally {
        this.rolling.delete(key);
        this.schedule(rec.name);
      }
    })();
    this.rolling.set(key, { ac, done });
  }

  private async rolloutEnded(name: string, end: RolloutState): Promise<void> {
    const rec = this.records.get(name);
    if (rec === undefined) return;
    rec.rollouts[end.service] = end;
    const revs = rec.revisions[end.service];
    if (end.phase === 'rolled-back' && revs !== undefined) {
      // The update failed and the old revision runs again: it is the desired one until the next up.
      rec.revisions[end.service] = { current: end.from, previous: end.to };
      this.noteError(name, end.service, `rollout rolled back: ${end.reason ?? end.failedUpdate ?? 'failed'}`);
    } else if (end.phase === 'failed') {
      this.noteError(name, end.service, `rollout failed: ${end.reason ?? 'unknown'}`);
    }
    await this.d.store.save(rec);
  }

  /** Aborts a service's rollout (down, a new up of that service); resolves when it has stopped. */
  async abortRollout(name: string, service: string): Promise<void> {
    const r = this.rolling.get(`${name}/${service}`);
    if (r === undefined) return;
    r.ac.abort();
    await r.done;
  }

  /** A new rollout state (undefined without the engine: the planner then recreates stop-first). */
  newRollout(args: Parameters<RolloutEngine['newState']>[0]): RolloutState | undefined {
    return this.d.rollouts?.newState(args);
  }

  isRolling(name: string, service: string): boolean {
    return this.rolling.has(`${name}/${service}`);
  }

  noteError(name: string, service: string | undefined, message: string): void {
    const at = new Date().toISOString();
    const rec = this.records.get(name);
    if (service === undefined) {
      if (rec) rec.lastError = { message, at };
      return;
    }
    const m = this.serviceErrors.get(name) ?? new Map<string, { message: string; at: string }>();
    m.set(service, { message, at });
    this.serviceErrors.set(name, m);
    if (rec) rec.lastError = { message: `${service}: ${message}`, at, service };
  }

  private clearError(name: string, service: string): void {
    this.serviceErrors.get(name)?.delete(service);
  }

  forget(name: string): void {
    this.records.delete(name);
    this.progress.delete(name);
    this.serviceErrors.delete(name);
    for (const k of this.backoff.keys()) if (k.startsWith(`${name}/`)) this.backoff.delete(k);
  }
}
