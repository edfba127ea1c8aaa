import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../../runtime/base/errors.js';
import type { Replica, RolloutOptions, RolloutProgress, RolloutState, ServiceRevision } from './contract.js';
import { crashIfAsked, type RolloutCrashPoint, rolloutCrashAt } from './rollout-crash.js';
import { freeIndexes, nextBatch, overFailureRatio, readyTimeoutMs } from './rollout-plan.js';

/**
 * The rolling update of one service (issue 14): replaces the replicas of
 * `state.from` (any revision other than `state.to`) by replicas of `state.to`
 * through ReplicaOps, a batch at a time, gated on readiness, and acts on
 * failures as `update_config` says. src/deploy/README.md describes the rules;
 * rollout-plan.ts holds the arithmetic.
 *
 * Restart safety: the state is saved before every step, and every decision is
 * taken from the replicas alive (`current`), so a restarted agent that calls
 * rollout() again with the saved state and what runs now adopts what the
 * killed one started (waiting for it to be ready if that was not recorded)
 * and starts nothing twice.
 */

/** Time, injectable so the unit tests run the delays and timestamps on a fake clock. */
export interface RolloutClock {
  now(): Date;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: RolloutClock = {
  now: () => new Date(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export interface RolloutDeps {
  clock?: RolloutClock;
  /** Default: BERTH_TEST_ROLLOUT_CRASH_AT (rollout-crash.ts), unset in production. */
  crashAt?: RolloutCrashPoint;
}

/**
 * Runs (or resumes) a rollout until it is done, paused, failed or rolled back,
 * and returns the final state (also saved). A state that is not `running` is
 * returned as is: a restarted agent may call this with whatever it saved, and
 * a paused rollout stays paused until the caller resumes it (resumeState).
 * Rejects only when `signal` aborts (the state saved so far resumes) or
 * `save` fails.
 */
export async function rollout(opts: RolloutOptions, deps: RolloutDeps = {}): Promise<RolloutState> {
  if (opts.state.phase !== 'running') return opts.state;
  const run = new RolloutRun(opts, deps.clock ?? systemClock, deps.crashAt ?? rolloutCrashAt());
  return run.execute();
}

/** A new rollout of `service` from one revision to another, ready for rollout(). */
export function newRolloutState(args: {
  kind: RolloutState['kind'];
  from: ServiceRevision;
  to: ServiceRevision;
  replicas: number;
  now?: Date;
}): RolloutState {
  const now = (args.now ?? new Date()).toISOString();
  return {
    service: args.to.service.name,
    kind: args.kind,
    from: args.from,
    to: args.to,
    replicas: args.replicas,
    // Leaving a revision follows that revision's rollback_config, as in Docker.
    config:
      args.kind === 'update' ? args.to.service.deploy.updateConfig : args.from.service.deploy.rollbackConfig,
    phase: 'running',
    started: [],
    retired: [],
    failures: 0,
    startedAt: now,
    updatedAt: now,
  };
}

/** A paused rollout made runnable again: failures counted afresh, the reason cleared. */
export function resumeState(state: RolloutState): RolloutState {
  if (state.phase !== 'paused') return state;
  const { reason: _reason, ...rest } = state;
  return { ...rest, phase: 'running', failures: 0 };
}

/** Bounds a rollout whose failures are tolerated but whose replicas never start (continue). */
const failureCap = (replicas: number): number => 2 * Math.max(1, replicas);

class RolloutRun {
  private state: RolloutState;
  /** The service's replicas as this run knows them: `current`, plus what it started, minus what it retired. */
  private live: Replica[];
  /** Replicas of `to` known ready (from the saved state, or seen ready by this run). */
  private readonly ready = new Set<string>();
  /** Replicas of `to` that failed to get ready or during their monitor. */
  private readonly failed: Set<string>;
  private readonly monitors = new Set<Promise<void>>();
  /** Ends the background monitors when the run stops (pause, rollback, abort, done). */
  private readonly monitorStop = new AbortController();
  private readonly signal: AbortSignal;
  private readonly prefix: string;

  constructor(
    private readonly opts: RolloutOptions,
    private readonly clock: RolloutClock,
    private readonly crashAt: RolloutCrashPoint | undefined,
    failed: Set<string> = new Set(),
  ) {
    this.state = structuredClone(opts.state);
    this.live = [...opts.current];
    this.failed = failed;
    this.signal = opts.signal;
    const alive = new Set(this.live.map((r) => r.id));
    for (const r of this.state.started) if (alive.has(r.id)) this.ready.add(r.id);
    // Keep only what still runs: a recorded replica that died while no agent watched is gone.
    this.state.started = this.state.started.filter((r) => alive.has(r.id));
    const named = this.live[0]?.name ?? '';
    this.prefix = named.includes('-') ? named.slice(0, named.lastIndexOf('-') + 1) : `${this.state.service}-`;
  }

  async execute(): Promise<RolloutState> {
    try {
      return await this.run();
    } catch (err) {
      if (this.signal.aborted) throw err;
      return this.end('failed', `${this.state.service}: ${messageOf(err)}`);
    } finally {
      this.monitorStop.abort();
    }
  }

  private get toHash(): string {
    return this.state.to.configHash;
  }

  private async run(): Promise<RolloutState> {
    const cfg = this.state.config;
    // Replicas of `to` the killed agent started but did not see ready: adopted, waited for.
    const adopted = this.live.filter((r) => r.configHash === this.toHash && !this.ready.has(r.id));
    if (adopted.length > 0) {
      await this.save();
      await Promise.all(adopted.map((r) => this.awaitReady(r)));
    }
    const limit = 4 * (this.live.length + this.state.replicas + failureCap(this.state.replicas)) + 4;
    for (let step = 0; ; step++) {
      this.signal.throwIfAborted();
      const verdict = await this.judge();
      if (verdict) return verdict;
      const batch = nextBatch(this.live, this.toHash, this.state.replicas, cfg, this.failed);
      if (batch === null) break;
      if (step >= limit) return this.end('failed', `${this.state.service}: no progress after ${step} steps`);
      if (step > 0 && cfg.delayMs > 0) await this.clock.sleep(cfg.delayMs, this.signal);
      if (cfg.order === 'start-first') {
        await this.startBatch(batch.start);
        // New ones that failed with the action due must not cost an old one.
        const after = await this.judge();
        if (after) return after;
        await this.retireBatch(this.planAgain().retire);
      } else {
        await this.retireBatch(batch.retire);
        await this.startBatch(this.planAgain().start);
      }
    }
    await this.settleMonitors();
    const verdict = await this.judge();
    if (verdict) return verdict;
    return this.end(this.state.failedUpdate !== undefined ? 'rolled-back' : 'done');
  }

  private planAgain(): { start: number; retire: Replica[] } {
    return (
      nextBatch(this.live, this.toHash, this.state.replicas, this.state.config, this.failed) ?? {
        start: 0,
        retire: [],
      }
    );
  }

  /** Null while failures are tolerated; else the state after failure_action. */
  private async judge(): Promise<RolloutState | null> {
    const { failures, replicas, config } = this.state;
    if (failures > failureCap(replicas)) {
      return this.end(
        'failed',
        `${this.state.service}: gave up after ${failures} failures (${this.state.reason})`,
      );
    }
    if (!overFailureRatio(failures, replicas, config.maxFailureRatio)) return null;
    const why = this.state.reason ?? `${failures} failures`;
    switch (config.failureAction) {
      case 'continue':
        return null;
      case 'pause':
        return this.end('paused', why);
      case 'rollback':
        if (this.state.kind === 'rollback') return this.end('failed', `rollback failed too: ${why}`);
        return this.rollBack(why);
    }
  }

  /** failure_action rollback: the reverse rollout, with the failed revision's rollback_config. */
  private async rollBack(why: string): Promise<RolloutState> {
    this.monitorStop.abort();
    const back: RolloutState = {
      ...newRolloutState({
        kind: 'rollback',
        from: this.state.to,
        to: this.state.from,
        replicas: this.state.replicas,
        now: this.clock.now(),
      }),
      // The previous revision's replicas served all along: ready, nothing to wait for.
      started: this.live.filter((r) => r.configHash === this.state.from.configHash),
      reason: why,
      failedUpdate: why,
    };
    const run = new RolloutRun(
      { ...this.opts, current: this.live, state: back },
      this.clock,
      this.crashAt,
      this.failed,
    );
    return run.execute();
  }

  private async startBatch(n: number): Promise<void> {
    if (n <= 0) return;
    await Promise.all(freeIndexes(this.live, n).map((i) => this.startOne(i)));
  }

  private async startOne(index: number): Promise<void> {
    const name = `${this.prefix}${index}`;
    // Reserve the index while starting, so a parallel start in the batch takes another.
    const placeholder: Replica = { id: `starting:${index}`, name, index, configHash: this.toHash };
    this.live.push(placeholder);
    await this.save({ name, for: 'start' });
    let replica: Replica;
    try {
      replica = await this.opts.ops.start(this.state.to, index, this.signal);
    } catch (err) {
      this.live = this.live.filter((r) => r !== placeholder);
      if (this.signal.aborted) throw err;
      this.fail(`${name} did not start: ${messageOf(err)}`);
      return;
    }
    crashIfAsked(this.crashAt, 'after-new-started');
    this.live = this.live.map((r) => (r === placeholder ? replica : r));
    await this.awaitReady(replica);
  }

  private async awaitReady(replica: Replica): Promise<void> {
    await this.save({ name: replica.name, for: 'ready' });
    try {
      await this.opts.ops.ready(replica, readyTimeoutMs(this.state.to.service), this.signal);
    } catch (err) {
      if (this.signal.aborted) throw err;
      this.failed.add(replica.id);
      this.fail(`${replica.name} did not get ready: ${messageOf(err)}`);
      return;
    }
    crashIfAsked(this.crashAt, 'after-new-ready');
    this.ready.add(replica.id);
    this.state.started.push(replica);
    await this.save();
    this.watch(replica);
  }

  /** update_config.monitor: a ready replica that exits or turns unhealthy in this window is a failure. */
  private watch(replica: Replica): void {
    const ms = this.state.config.monitorMs;
    if (ms <= 0) return;
    const stop = AbortSignal.any([this.signal, this.monitorStop.signal]);
    const p = this.opts.ops.monitor(replica, ms, stop).then(
      () => undefined,
      (err: unknown) => {
        if (stop.aborted) return;
        this.failed.add(replica.id);
        this.fail(`${replica.name} failed during its ${ms} ms monitor: ${messageOf(err)}`);
      },
    );
    this.monitors.add(p);
    void p.finally(() => this.monitors.delete(p));
  }

  private async settleMonitors(): Promise<void> {
    while (this.monitors.size > 0) {
      this.progress({ name: this.state.started.at(-1)?.name ?? '', for: 'monitor' });
      await Promise.all([...this.monitors]);
    }
  }

  private async retireBatch(replicas: readonly Replica[]): Promise<void> {
    await Promise.all(replicas.map((r) => this.retireOne(r)));
  }

  private async retireOne(replica: Replica): Promise<void> {
    await this.save({ name: replica.name, for: 'retire' });
    await this.opts.ops.retire(replica, this.signal);
    crashIfAsked(this.crashAt, 'after-old-retired');
    this.live = this.live.filter((r) => r.id !== replica.id);
    this.state.started = this.state.started.filter((r) => r.id !== replica.id);
    this.state.retired.push(replica);
    await this.save();
  }

  private fail(reason: string): void {
    this.state.failures++;
    this.state.reason = reason;
    this.progress();
  }

  private async end(phase: RolloutState['phase'], reason?: string): Promise<RolloutState> {
    this.monitorStop.abort();
    this.state.phase = phase;
    if (reason !== undefined) this.state.reason = reason;
    if (phase === 'rolled-back' && this.state.kind === 'rollback') {
      // Reported as the update that was rolled back: `from` runs again, `to` is the revision that failed.
      this.state = { ...this.state, kind: 'update', from: this.state.to, to: this.state.from };
    }
    await this.save();
    return structuredClone(this.state);
  }

  private async save(waiting?: RolloutProgress['waiting']): Promise<void> {
    this.state.updatedAt = this.clock.now().toISOString();
    await this.opts.save(structuredClone(this.state));
    this.progress(waiting);
  }

  private progress(waiting?: RolloutProgress['waiting']): void {
    if (!this.opts.onProgress) return;
    const real = this.live.filter((r) => !r.id.startsWith('starting:'));
    const p: RolloutProgress = {
      service: this.state.service,
      kind: this.state.kind,
      phase: this.state.phase,
      oldCount: real.filter((r) => r.configHash !== this.toHash).length,
      newCount: real.filter((r) => r.configHash === this.toHash).length,
      failures: this.state.failures,
      ...(waiting ? { waiting } : {}),
      ...(this.state.reason !== undefined ? { reason: this.state.reason } : {}),
    };
    this.opts.onProgress(p);
  }
}
