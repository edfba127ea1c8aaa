// Over 400 lines: one class whose apply steps share the slot state and the apply queue; the separable parts are binds.ts, config-text.ts, drains.ts and refusals.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { isInvalidArgument, messageOf, UnavailableError } from '../../runtime/base/errors.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import { type Logger, silentLogger } from '../../runtime/base/log.js';
import type { ContainerDescriptor } from '../../runtime/types.js';
import type { Catalog, CatalogView } from '../discovery/types.js';
import { desiredWithBinds, serverLinesOnly } from './binds.js';
import type { HaproxyOptions } from './config.js';
import { ConfigText } from './config-text.js';
import { Debouncer } from './debounce.js';
import { Drains } from './drains.js';
import { installConfig, readLive, restoreBackup } from './install.js';
import { HaproxyMetrics } from './metrics.js';
import type { DesiredState, LbProblem } from './model.js';
import {
  type Attempt,
  complaintOf,
  leaveOut,
  MAX_REFUSED_PER_APPLY,
  noRefusals,
  type Refusals,
  refusedFrontend,
  serviceAt,
  withoutRefused,
} from './refusals.js';
import { RuntimeApi } from './runtime-api.js';
import { cloneState, type LbState, normaliseForReload, type Plan, planSlots } from './slots.js';
import { HaproxySupervisor } from './supervisor.js';
import type {
  ApplyFailure,
  HaproxyManagerDeps,
  HaproxyProcess,
  PreStopResult,
  RuntimeCommands,
} from './types.js';
import { ConfigRejectedError } from './validate.js';

export { liveBinds, serverLinesOnly } from './binds.js';
export { MAX_REFUSED_PER_APPLY } from './refusals.js';
export type { ApplyFailure, HaproxyManagerDeps, PreStopResult } from './types.js';

/**
 * Keeps an HAProxy current with the Catalog: catalog view → desired services
 * (labels in instance meta) → slot plan → render → `haproxy -c` → atomic
 * install → Runtime API commands, or a seamless reload for structural
 * changes. Every apply and drain step runs on one queue, so the slot state
 * berth believes in is never changed by two things at once.
 */
export class HaproxyManager {
  readonly metrics: HaproxyMetrics;
  private readonly opts: HaproxyOptions;
  private readonly catalog: Catalog;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly supervisor: HaproxyProcess;
  private readonly runtime: RuntimeCommands;
  private readonly drains: Drains;
  private readonly debouncer: Debouncer;
  private readonly text: ConfigText;
  private state: LbState = new Map();
  private readonly queue = new Mutex();
  private queued = 0;
  private readonly ac = new AbortController();
  private watching: Promise<void> | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private lastProblems = '';
  /** Catalog index of the newest view an apply has acted on (successfully or not). */
  private attemptedIndex = -1;
  private closed = false;
  /** The desired state of the newest apply (to tell a service's config section from others). */
  private lastDesired: DesiredState | undefined;
  /** The last failed apply; cleared by the next successful one. */
  lastFailure: ApplyFailure | undefined;

  constructor(deps: HaproxyManagerDeps) {
    this.opts = deps.options;
    this.catalog = deps.catalog;
    this.logger = deps.logger ?? silentLogger();
    this.metrics = deps.metrics ?? new HaproxyMetrics();
    this.now = deps.now ?? Date.now;
    const hooks = {
      logger: this.logger,
      onRestartCounted: () => {
        this.metrics.restarts++;
      },
      onRestarted: () => {
        void this.enqueue(async () => {
          // The restarted HAProxy loaded the live file: that is what the slots hold now.
          normaliseForReload(this.state);
          await this.applyOnce(this.now());
        }).catch((err: unknown) => this.logger.error({ err }, 'haproxy resync after restart failed'));
      },
    };
    const process = deps.process ? deps.process(hooks) : new HaproxySupervisor(this.opts, hooks);
    this.supervisor = process;
    this.text = new ConfigText(this.opts, deps.renderer, () => process.preludeFiles());
    this.runtime =
      deps.runtime ??
      new RuntimeApi({ statsSocket: this.opts.statsSocket, masterSocket: this.opts.masterSocket });
    this.drains = new Drains({
      state: () => this.state,
      runtime: this.runtime,
      metrics: this.metrics,
      now: this.now,
      drainTimeoutMs: this.opts.drainTimeoutMs,
      enqueue: (fn) => this.enqueue(fn),
      logger: this.logger,
      changed: () => this.metrics.observeSlots(this.state),
      freed: () => {
        this.metrics.observeSlots(this.state);
        this.scheduleExpiry();
      },
    });
    this.debouncer = new Debouncer(
      this.opts.quietPeriodMs,
      this.opts.maxWaitMs,
      (firstAt) => {
        void this.enqueue(() => this.applyOnce(firstAt)).catch((err: unknown) =>
          this.logger.error({ err }, 'haproxy apply failed'),
        );
      },
      this.now,
    );
  }

  /** PID of the HAProxy master berth runs (managed mode). */
  get haproxyPid(): number | undefined {
    return this.supervisor.pid;
  }

  /**
   * Renders the config for the current catalog view, validates and installs
   * it, starts HAProxy (managed) or reloads the given one (external), then
   * follows the catalog. A template or config that cannot work at all fails
   * here, loudly, rather than leaving a frontend-less HAProxy.
   */
  async start(): Promise<void> {
    await this.text.init();
    await this.supervisor.prepare();
    const view = this.catalog.view();
    const desired = await desiredWithBinds(view, this.opts, await readLive(this.opts.configPath));
    const refused = noRefusals();
    this.lastDesired = desired;
    let plan: Plan;
    let candidate: string;
    for (let round = 0; ; round++) {
      plan = this.planFor(desired, refused);
      const text = this.text.render(plan.next);
      try {
        candidate = await this.text.validate(text);
        break;
      } catch (err) {
        // One service HAProxy refuses must not keep every other one from starting.
        const service =
          err instanceof ConfigRejectedError
            ? serviceAt(text, err.problem.line, this.state, this.lastDesired)
            : undefined;
        if (
          service === undefined ||
          round >= MAX_REFUSED_PER_APPLY ||
          refused.complaints.has(complaintOf(err))
        ) {
          throw err;
        }
        this.metrics.validateFailures++;
        leaveOut(this.state, desired, refused, service, err);
      }
    }
    this.noteProblems(desired.problems);
    await installConfig(candidate, this.opts.configPath);
    if (this.opts.mode === 'managed') await this.supervisor.start();
    else await this.supervisor.reload();
    this.state = plan.next;
    this.attemptedIndex = view.index;
    this.metrics.observeSlots(this.state);
    this.watching = this.watch(view.index);
  }

  private async watch(startIndex: number): Promise<void> {
    let last = startIndex;
    try {
      for await (const view of this.catalog.watch({ signal: this.ac.signal })) {
        if (view.index === last) continue;
        last = view.index;
        this.debouncer.poke();
      }
    } catch (err) {
      if (!this.closed) this.logger.error({ err }, 'catalog watch ended');
    }
  }

  /** Runs `fn` on the apply queue (one at a time). */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    return this.queue.run(fn).finally(() => {
      this.queued--;
    });
  }

  private planOpts() {
    return {
      now: this.now(),
      slotsPerBackend: this.opts.slotsPerBackend,
      emptyServiceRetentionMs: this.opts.emptyServiceRetentionMs,
    };
  }

  private fail(stage: ApplyFailure['stage'], err: unknown): void {
    this.lastFailure = { stage, message: messageOf(err), at: this.now() };
    this.logger.error({ stage, err }, 'haproxy apply failed; the running config stays');
  }

  /** One apply of the newest catalog view. `firstAt`: when the first change of this batch was seen. */
  private async applyOnce(firstAt: number): Promise<void> {
    if (this.closed) return;
    const view = this.catalog.view();
    try {
      await this.applyView(view, firstAt);
    } finally {
      this.attemptedIndex = Math.max(this.attemptedIndex, view.index);
    }
  }

  private async applyView(view: CatalogView, firstAt: number): Promise<void> {
    const live = await readLive(this.opts.configPath);
    const desired = await desiredWithBinds(view, this.opts, live);
    const refused = noRefusals();
    try {
      for (let round = 0; ; round++) {
        const attempt = await this.applyDesired(desired, refused, live, firstAt);
        if (attempt.done) return;
        if (round >= MAX_REFUSED_PER_APPLY || refused.complaints.has(complaintOf(attempt.err))) {
          this.fail(attempt.stage, attempt.err);
          return;
        }
        // HAProxy refused one service: leave it out, report it, apply the rest.
        leaveOut(this.state, desired, refused, attempt.service, attempt.err);
      }
    } finally {
      this.noteProblems(desired.problems);
    }
  }

  /** planSlots, with the services HAProxy refused outright taken out of the result (a reload). */
  private planFor(desired: DesiredState, refused: Refusals): Plan {
    return withoutRefused(planSlots(this.state, desired, this.planOpts()), refused);
  }

  /** One attempt at making HAProxy hold `desired`. */
  private async applyDesired(
    desired: DesiredState,
    refused: Refusals,
    live: string,
    firstAt: number,
  ): Promise<Attempt> {
    this.lastDesired = desired;
    const plan = this.planFor(desired, refused);
    let text: string;
    try {
      await this.text.refresh();
      text = this.text.render(plan.next);
    } catch (err) {
      this.metrics.renderFailures++;
      this.fail('render', err);
      return { done: true };
    }
    const fileChanged = text !== live;
    let reload = plan.structural;
    if (!reload && plan.commands.length > 0 && serverLinesOnly(live, text)) {
      // Fast path: only server lines changed, inside a structure HAProxy has
      // already accepted, so the Runtime API goes first and `haproxy -c` +
      // install, which cost 10 ms on an idle host and hundreds on a busy one,
      // follow off the routing path. Every address and port in the commands
      // was validated before the plan (model.ts, discovery/instance.ts).
      try {
        await this.runtime.apply(plan.commands);
        this.metrics.runtimeApiApplies++;
        this.commit(plan.next, firstAt);
        if (!(await this.persist(text))) {
          this.logger.warn('the running HAProxy has the new servers; the live file keeps the previous ones');
        }
        return { done: true };
      } catch (err) {
        this.metrics.runtimeApiFailures++;
        this.logger.warn({ err }, 'runtime API apply failed; reloading instead');
        reload = true;
        normaliseForReload(plan.next);
      }
    }
    if (fileChanged) {
      let candidate: string;
      try {
        candidate = await this.text.validate(text);
      } catch (err) {
        if (isInvalidArgument(err)) this.metrics.validateFailures++;
        const service =
          err instanceof ConfigRejectedError
            ? serviceAt(text, err.problem.line, this.state, this.lastDesired)
            : undefined;
        if (service !== undefined) return { done: false, service, stage: 'validate', err };
        this.fail('validate', err);
        return { done: true };
      }
      await installConfig(candidate, this.opts.configPath);
    }
    if (!reload && plan.commands.length > 0) {
      try {
        await this.runtime.apply(plan.commands);
        this.metrics.runtimeApiApplies++;
      } catch (err) {
        // The installed file holds the wanted state: a reload gets there too.
        this.metrics.runtimeApiFailures++;
        this.logger.warn({ err }, 'runtime API apply failed; reloading instead');
        reload = true;
        normaliseForReload(plan.next);
      }
    }
    if (reload) {
      try {
        await this.supervisor.reload();
        this.metrics.reloads++;
        this.logger.info({ reasons: plan.reasons }, 'haproxy reloaded');
      } catch (err) {
        if (fileChanged) await restoreBackup(this.opts.configPath);
        // A frontend of this plan that the new worker could not start (a bind the pre-check missed).
        const service = refusedFrontend(messageOf(err), plan, this.state);
        // Counted last: whoever watches the counter sees the backup restored and the failure recorded.
        if (service !== undefined) {
          this.metrics.reloadFailures++;
          return { done: false, service, stage: 'reload', err };
        }
        this.fail('reload', err);
        this.metrics.reloadFailures++;
        return { done: true };
      }
    }
    if (reload || plan.commands.length > 0 || fileChanged) this.commit(plan.next, firstAt);
    else this.commit(plan.next, undefined);
    return { done: true };
  }

  /** Validates `text` and installs it as the live config; false (counted, reported) when HAProxy rejects it. */
  private async persist(text: string): Promise<boolean> {
    let candidate: string;
    try {
      candidate = await this.text.validate(text);
    } catch (err) {
      if (isInvalidArgument(err)) this.metrics.validateFailures++;
      this.fail('validate', err);
      return false;
    }
    await installConfig(candidate, this.opts.configPath);
    return true;
  }

  /** The running HAProxy now holds `next`. `firstAt` undefined: nothing changed, no latency to record. */
  private commit(next: LbState, firstAt: number | undefined): void {
    this.state = next;
    this.lastFailure = undefined;
    if (firstAt !== undefined) this.metrics.observeApplyLatency(Math.max(0, this.now() - firstAt));
    this.metrics.observeSlots(this.state);
    this.drains.schedule();
    this.scheduleExpiry();
  }

  /** Logs the problems of an apply when they changed; the gauges say how many are current, by kind. */
  private noteProblems(problems: LbProblem[]): void {
    const key = JSON.stringify(problems);
    if (key === this.lastProblems) return;
    this.lastProblems = key;
    this.metrics.labelProblems = problems.filter((p) => p.kind === 'label').length;
    this.metrics.instanceProblems = problems.filter((p) => p.kind === 'instance').length;
    this.metrics.serviceProblems = problems.filter((p) => p.kind === 'service').length;
    for (const p of problems) this.logger.warn(p, `haproxy: ${p.kind} problem; left out, the rest is served`);
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    let next: number | undefined;
    for (const be of this.state.values()) {
      if (be.emptySince === undefined) continue;
      const at = be.emptySince + this.opts.emptyServiceRetentionMs;
      next = next === undefined ? at : Math.min(next, at);
    }
    if (next === undefined || this.closed) return;
    this.expiryTimer = setTimeout(() => this.debouncer.poke(), Math.max(0, next - this.now()) + 1);
    this.expiryTimer.unref();
  }

  /**
   * Before the runtime stops a container: its servers go to drain at once
   * (they stay there until the instance leaves the catalog, however its
   * health reads meanwhile) and this waits, bounded by `timeoutMs` (default
   * `drainTimeout`), until their sessions reach 0. Containers in no backend
   * return at once.
   */
  preStop(
    descriptor: Pick<ContainerDescriptor, 'id'>,
    opts: { timeoutMs?: number } = {},
  ): Promise<PreStopResult> {
    return this.drains.preStop(descriptor, opts.timeoutMs ?? this.opts.drainTimeoutMs);
  }

  /** A copy of the slot state berth believes HAProxy holds. */
  slots(): LbState {
    return cloneState(this.state);
  }

  /**
   * Resolves once the newest catalog view has been acted on (applied, or
   * refused: see `lastFailure`), nothing is pending and no drain is in
   * progress (bounded).
   */
  async settled(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 1_000_000; i++) {
      if (
        this.attemptedIndex >= this.catalog.view().index &&
        !this.debouncer.pending &&
        this.queued === 0 &&
        this.drains.removing().length === 0
      ) {
        return;
      }
      if (Date.now() > deadline) break;
      await sleep(10);
    }
    throw new UnavailableError(`haproxy: changes not applied within ${timeoutMs} ms`);
  }

  /**
   * Stops following the catalog. Managed mode also stops HAProxy, unless
   * `keepHaproxy` (agent restart or upgrade: it keeps serving the last
   * config, and the next `start()` on the same `stateDir` adopts it).
   */
  async close(opts: { keepHaproxy?: boolean } = {}): Promise<void> {
    this.closed = true;
    this.ac.abort();
    this.debouncer.cancel();
    this.drains.close();
    clearTimeout(this.expiryTimer);
    await this.watching;
    await this.queue.drain();
    if (this.opts.mode !== 'managed') return;
    if (opts.keepHaproxy === true) this.supervisor.detach();
    else await this.supervisor.stop();
  }
}
