import { stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidArgumentError,
  isInvalidArgument,
  messageOf,
  UnavailableError,
} from '../../runtime/base/errors.js';
import { Mutex } from '../../runtime/base/keyed-mutex.js';
import { type Logger, silentLogger } from '../../runtime/base/log.js';
import type { ContainerDescriptor } from '../../runtime/types.js';
import type { Catalog, CatalogView } from '../discovery/types.js';
import type { HaproxyOptions } from './config.js';
import { Debouncer } from './debounce.js';
import { installConfig, readLive, restoreBackup } from './install.js';
import { sameSpec } from './labels.js';
import { HaproxyMetrics } from './metrics.js';
import { type DesiredState, desiredFromView, type LbProblem } from './model.js';
import { renderDefault, templateData } from './render.js';
import { RuntimeApi } from './runtime-api.js';
import {
  backendName,
  cloneState,
  finishDrain,
  type LbState,
  normaliseForReload,
  type Plan,
  planSlots,
  type SlotState,
} from './slots.js';
import { HaproxySupervisor } from './supervisor.js';
import { type ConfigRenderer, loadTemplate } from './template.js';
import { ConfigRejectedError, validateConfigText } from './validate.js';

export interface HaproxyManagerDeps {
  catalog: Catalog;
  options: HaproxyOptions;
  logger?: Logger;
  metrics?: HaproxyMetrics;
  /** Overrides `options.templatePath` and the default generator (tests, embedders). */
  renderer?: ConfigRenderer;
  now?: () => number;
}

export interface PreStopResult {
  /** Servers (slots) of the container that were put in drain. */
  servers: string[];
  /** True when their sessions reached 0 within the bound. */
  drained: boolean;
  /** Sessions still open when the wait ended. */
  sessions: number;
}

/** The last apply that failed, for status output and tests. */
export interface ApplyFailure {
  stage: 'render' | 'validate' | 'reload' | 'runtime-api';
  message: string;
  at: number;
}

const DRAIN_POLL_MS = 100;

/**
 * At most this many services are left out of one apply because HAProxy
 * refused them (`haproxy -c` naming a line of theirs, or a reload naming
 * their frontend): each costs one more check or reload, so a flood of bad
 * services cannot turn one catalog change into hundreds of them.
 */
export const MAX_REFUSED_PER_APPLY = 8;

/** Services HAProxy refused during one apply: dropped outright, or kept on their previous labels. */
interface Refusals {
  dropped: Set<string>;
  keptOld: Set<string>;
  /** HAProxy's complaints so far: the same one for a second service is the template's fault, not theirs. */
  complaints: Set<string>;
}

/** HAProxy's complaint without the line it named (the same keyword error in two services reads the same). */
function complaintOf(err: unknown): string {
  return err instanceof ConfigRejectedError ? err.problem.message : messageOf(err);
}

/** How one attempt at applying a desired state ended: done (applied or failed for good), or HAProxy refused one service. */
type Attempt = { done: true } | { done: false; service: string; stage: 'validate' | 'reload'; err: unknown };

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
  private readonly supervisor: HaproxySupervisor;
  private readonly runtime: RuntimeApi;
  private readonly debouncer: Debouncer;
  private renderer: ConfigRenderer | undefined;
  private readonly fixedRenderer: boolean;
  /** mtime and size of the template file the renderer was compiled from. */
  private templateStamp = '';
  private state: LbState = new Map();
  private readonly queue = new Mutex();
  private queued = 0;
  private readonly ac = new AbortController();
  private watching: Promise<void> | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
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
    this.renderer = deps.renderer;
    this.fixedRenderer = deps.renderer !== undefined;
    this.supervisor = new HaproxySupervisor(this.opts, {
      logger: this.logger,
      onRestartCounted: () => {
        this.metrics.restarts++;
      },
      onRestarted: () => {
        void this.enqueue(async () => {
          // The restarted HAProxy loaded the live file: that is what the slots hold now.
          normaliseForReload(this.state);
          await this.applyOnce(this.now());
        }).catch((err: unknown) =>
          this.logger.error({ err: messageOf(err) }, 'haproxy resync after restart failed'),
        );
      },
    });
    this.runtime = new RuntimeApi({
      statsSocket: this.opts.statsSocket,
      masterSocket: this.opts.masterSocket,
    });
    this.debouncer = new Debouncer(
      this.opts.quietPeriodMs,
      this.opts.maxWaitMs,
      (firstAt) => {
        void this.enqueue(() => this.applyOnce(firstAt)).catch((err: unknown) =>
          this.logger.error({ err: messageOf(err) }, 'haproxy apply failed'),
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
    if (this.renderer === undefined) {
      if (this.opts.templatePath !== undefined) await this.refreshTemplate();
      else this.renderer = (data) => renderDefault(data);
    }
    await this.supervisor.prepare();
    const view = this.catalog.view();
    const desired = await this.desiredFor(view, await readLive(this.opts.configPath));
    const refused: Refusals = { dropped: new Set(), keptOld: new Set(), complaints: new Set() };
    this.lastDesired = desired;
    let plan: Plan;
    let candidate: string;
    for (let round = 0; ; round++) {
      plan = this.planFor(desired, refused);
      const text = this.render(plan.next);
      try {
        candidate = await validateConfigText(text, this.validateOpts());
        break;
      } catch (err) {
        // One service HAProxy refuses must not keep every other one from starting.
        const service =
          err instanceof ConfigRejectedError ? this.serviceAt(text, err.problem.line) : undefined;
        if (
          service === undefined ||
          round >= MAX_REFUSED_PER_APPLY ||
          refused.complaints.has(complaintOf(err))
        ) {
          throw err;
        }
        this.metrics.validateFailures++;
        this.leaveOut(desired, refused, service, err);
      }
    }
    this.noteProblems(desired.problems);
    await installConfig(candidate, this.opts.configPath);
    if (this.opts.mode === 'managed') await this.supervisor.start();
    else await this.supervisor.reload();
    this.state = plan.next;
    this.attemptedIndex = view.index;
    this.updateGauges();
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
      if (!this.closed) this.logger.error({ err: messageOf(err) }, 'catalog watch ended');
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

  private validateOpts() {
    return {
      binary: this.opts.binary,
      preludeFiles: this.supervisor.preludeFiles(),
      dir: dirOf(this.opts.configPath),
      timeoutMs: this.opts.validateTimeoutMs,
    };
  }

  /** Recompiles the user template when its file changed (an edit takes effect with the next apply). */
  private async refreshTemplate(): Promise<void> {
    const path = this.opts.templatePath;
    if (path === undefined || this.fixedRenderer) return;
    let stamp = '';
    try {
      const st = await stat(path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      // loadTemplate below reports the missing file with its path
    }
    if (stamp !== '' && stamp === this.templateStamp && this.renderer !== undefined) return;
    this.renderer = await loadTemplate(path);
    this.templateStamp = stamp;
  }

  private render(state: LbState): string {
    const r = this.renderer;
    if (r === undefined) throw new InvalidArgumentError('haproxy: manager not started');
    return r(
      templateData(state, {
        bindAddress: this.opts.bindAddress,
        timeoutConnectMs: this.opts.timeoutConnectMs,
        timeoutClientMs: this.opts.timeoutClientMs,
        timeoutServerMs: this.opts.timeoutServerMs,
        checkIntervalMs: this.opts.checkIntervalMs,
        hardStopAfterMs: this.opts.hardStopAfterMs,
        exporterListen: this.opts.exporterListen,
      }),
    );
  }

  private fail(stage: ApplyFailure['stage'], err: unknown): void {
    this.lastFailure = { stage, message: messageOf(err), at: this.now() };
    this.logger.error({ stage, err: messageOf(err) }, 'haproxy apply failed; the running config stays');
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
    const desired = await this.desiredFor(view, live);
    const refused: Refusals = { dropped: new Set(), keptOld: new Set(), complaints: new Set() };
    try {
      for (let round = 0; ; round++) {
        const attempt = await this.applyDesired(desired, refused, live, firstAt);
        if (attempt.done) return;
        if (round >= MAX_REFUSED_PER_APPLY || refused.complaints.has(complaintOf(attempt.err))) {
          this.fail(attempt.stage, attempt.err);
          return;
        }
        // HAProxy refused one service: leave it out, report it, apply the rest.
        this.leaveOut(desired, refused, attempt.service, attempt.err);
      }
    } finally {
      this.noteProblems(desired.problems);
    }
  }

  /**
   * The desired state for a view: labels, catalog entries and the frontend
   * allow-list checked (model.ts), then each frontend HAProxy does not hold
   * yet (not in the `live` config) tried: a port another process holds, or an
   * address this host does not have, would fail the reload for every service.
   */
  private async desiredFor(view: CatalogView, live: string): Promise<DesiredState> {
    const desired = desiredFromView(view, this.opts.bindAddress, this.opts.frontendAllow);
    const held = liveBinds(live);
    for (const [name, svc] of desired.services) {
      const bind = svc.spec.bind ?? this.opts.bindAddress;
      if (held.has(bindKey(bind, svc.spec.port))) continue;
      const why = await bindProblem(bind, svc.spec.port);
      if (why === undefined) continue;
      desired.problems.push({ kind: 'service', service: name, message: why });
      desired.services.delete(name);
    }
    return desired;
  }

  /** planSlots, with the services HAProxy refused outright taken out of the result (a reload). */
  private planFor(desired: DesiredState, refused: Refusals): Plan {
    const plan = planSlots(this.state, desired, this.planOpts());
    for (const name of refused.dropped) {
      if (!plan.next.delete(name)) continue;
      if (!plan.structural) normaliseForReload(plan.next);
      plan.structural = true;
      plan.commands = [];
      plan.reasons.push(`service ${name} left out`);
    }
    return plan;
  }

  /**
   * HAProxy refused `service`: report it and leave it out. A service that
   * serves now and changed its labels keeps the labels HAProxy accepted (with
   * the current instances); a new one, or one refused again, is dropped.
   */
  private leaveOut(desired: DesiredState, refused: Refusals, service: string, err: unknown): void {
    refused.complaints.add(complaintOf(err));
    const prev = this.state.get(service);
    const want = desired.services.get(service);
    if (
      prev !== undefined &&
      want !== undefined &&
      !sameSpec(prev.spec, want.spec) &&
      !refused.keptOld.has(service)
    ) {
      desired.services.set(service, { spec: prev.spec, servers: want.servers });
      refused.keptOld.add(service);
      desired.problems.push({
        kind: 'service',
        service,
        message: `new berth.lb.* labels left out (the previous ones stay), HAProxy refused them: ${messageOf(err)}`,
      });
      return;
    }
    desired.services.delete(service);
    refused.dropped.add(service);
    desired.problems.push({
      kind: 'service',
      service,
      message: `left out, HAProxy refused it: ${messageOf(err)}`,
    });
  }

  /** The LB service whose section holds line `line` (1-based) of `text`, if it is one berth knows. */
  private serviceAt(text: string, line: number | undefined): string | undefined {
    if (line === undefined) return undefined;
    const lines = text.split('\n');
    for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
      const m = /^\s*(frontend|backend|listen)\s+'?([^'\s]+)'?/.exec(lines[i] ?? '');
      if (m === null) continue;
      const name = (m[2] ?? '').replace(/^(fe|be)_/, '');
      // Only a service that is new or changed its labels: a section HAProxy
      // accepted before failing now means the template (or HAProxy) changed,
      // and leaving services out would not fix that.
      const want = this.lastDesired?.services.get(name);
      const prev = this.state.get(name);
      if (want === undefined) return undefined;
      return prev === undefined || !sameSpec(prev.spec, want.spec) ? name : undefined;
    }
    return undefined;
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
      await this.refreshTemplate();
      text = this.render(plan.next);
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
        this.logger.warn({ err: messageOf(err) }, 'runtime API apply failed; reloading instead');
        reload = true;
        normaliseForReload(plan.next);
      }
    }
    if (fileChanged) {
      let candidate: string;
      try {
        candidate = await validateConfigText(text, this.validateOpts());
      } catch (err) {
        if (isInvalidArgument(err)) this.metrics.validateFailures++;
        const service =
          err instanceof ConfigRejectedError ? this.serviceAt(text, err.problem.line) : undefined;
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
        this.logger.warn({ err: messageOf(err) }, 'runtime API apply failed; reloading instead');
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
        const service = this.refusedFrontend(messageOf(err), plan);
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

  /** A service of `plan` whose frontend HAProxy's reload output says it could not start, and that is new or changed. */
  private refusedFrontend(output: string, plan: Plan): string | undefined {
    for (const m of output.matchAll(/Starting (?:frontend|proxy) '?fe_([A-Za-z0-9_.-]+)'?:/g)) {
      const name = m[1] ?? '';
      const now = plan.next.get(name);
      const before = this.state.get(name);
      if (now !== undefined && (before === undefined || !sameSpec(before.spec, now.spec))) return name;
    }
    return undefined;
  }

  /** Validates `text` and installs it as the live config; false (counted, reported) when HAProxy rejects it. */
  private async persist(text: string): Promise<boolean> {
    let candidate: string;
    try {
      candidate = await validateConfigText(text, this.validateOpts());
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
    this.updateGauges();
    this.scheduleDrainCheck();
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

  private updateGauges(): void {
    const servers = { ready: 0, drain: 0, maint: 0, free: 0 };
    for (const be of this.state.values()) {
      for (const s of be.slots) {
        if (s.instanceId === undefined) servers.free++;
        else servers[s.state]++;
      }
    }
    this.metrics.backends = this.state.size;
    this.metrics.servers = servers;
  }

  private removingSlots(): { service: string; slot: SlotState }[] {
    const out: { service: string; slot: SlotState }[] = [];
    for (const [service, be] of this.state)
      for (const slot of be.slots) if (slot.removing) out.push({ service, slot });
    return out;
  }

  private scheduleDrainCheck(): void {
    if (this.closed || this.drainTimer !== undefined || this.removingSlots().length === 0) return;
    this.drainTimer = setTimeout(() => {
      void this.enqueue(() => this.checkDrains())
        .catch((err: unknown) => this.logger.warn({ err: messageOf(err) }, 'haproxy drain check failed'))
        .finally(() => {
          this.drainTimer = undefined;
          this.scheduleDrainCheck();
        });
    }, DRAIN_POLL_MS);
  }

  /** Frees removing slots whose sessions ended (or whose drain timed out). */
  private async checkDrains(): Promise<void> {
    const removing = this.removingSlots();
    if (removing.length === 0 || this.closed) return;
    const sessions = await this.runtime.sessions();
    const now = this.now();
    const cmds: string[] = [];
    for (const { service, slot } of removing) {
      const scur = sessions.get(`${backendName(service)}/s${slot.slot}`) ?? 0;
      const timedOut = now - (slot.drainSince ?? now) >= this.opts.drainTimeoutMs;
      if (scur > 0 && !timedOut) continue;
      if (scur > 0) this.metrics.drainsTimedOut++;
      else this.metrics.drainsCompleted++;
      const c = finishDrain(this.state, service, slot.slot);
      if (c !== undefined) cmds.push(c);
    }
    await this.runtime.apply(cmds);
    this.updateGauges();
    this.scheduleExpiry();
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
  async preStop(
    descriptor: Pick<ContainerDescriptor, 'id'>,
    opts: { timeoutMs?: number } = {},
  ): Promise<PreStopResult> {
    const timeoutMs = opts.timeoutMs ?? this.opts.drainTimeoutMs;
    const names = await this.enqueue(async () => {
      const now = this.now();
      const cmds: string[] = [];
      const found: string[] = [];
      for (const [service, be] of this.state) {
        for (const s of be.slots) {
          if (s.containerId !== descriptor.id || s.instanceId === undefined) continue;
          const name = `${backendName(service)}/s${s.slot}`;
          found.push(name);
          s.heldUntil = now + timeoutMs + this.opts.drainTimeoutMs;
          if (s.state === 'ready') {
            s.state = 'drain';
            cmds.push(`set server ${name} state drain`);
          }
        }
      }
      await this.runtime.apply(cmds);
      this.updateGauges();
      return found;
    });
    if (names.length === 0) return { servers: [], drained: true, sessions: 0 };
    const deadline = Date.now() + timeoutMs;
    let open = 0;
    for (let i = 0; i < 1_000_000; i++) {
      try {
        const sessions = await this.runtime.sessions();
        open = names.reduce((n, name) => n + (sessions.get(name) ?? 0), 0);
      } catch (err) {
        if (!(err instanceof UnavailableError)) throw err;
      }
      if (open === 0) return { servers: names, drained: true, sessions: 0 };
      if (Date.now() + DRAIN_POLL_MS > deadline) break;
      await sleep(DRAIN_POLL_MS);
    }
    return { servers: names, drained: false, sessions: open };
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
        this.removingSlots().length === 0
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
    clearTimeout(this.drainTimer);
    clearTimeout(this.expiryTimer);
    await this.watching;
    await this.queue.drain();
    if (this.opts.mode !== 'managed') return;
    if (opts.keepHaproxy === true) this.supervisor.detach();
    else await this.supervisor.stop();
  }
}

/** True when `a` and `b` differ only in `server s<N> …` lines of the same servers (same line count and order). */
export function serverLinesOnly(a: string, b: string): boolean {
  const la = a.split('\n');
  const lb = b.split('\n');
  if (la.length !== lb.length) return false;
  for (let i = 0; i < la.length; i++) {
    const x = la[i] ?? '';
    const y = lb[i] ?? '';
    if (x === y) continue;
    const mx = /^\s*server\s+(s\d+)\s/.exec(x);
    const my = /^\s*server\s+(s\d+)\s/.exec(y);
    if (mx === null || my === null || mx[1] !== my[1]) return false;
  }
  return true;
}

const bindKey = (address: string, port: number): string =>
  `${address.includes(':') ? `[${address}]` : address}:${port}`;

/** `addr:port` of every `bind` in a config text (the frontends HAProxy holds now). */
export function liveBinds(config: string): Set<string> {
  const out = new Set<string>();
  for (const m of config.matchAll(/^\s*bind\s+'?([^'\s]*):(\d+)'?/gm)) {
    const addr = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
    out.add(bindKey(addr === '' || addr === '*' ? '0.0.0.0' : addr, Number(m[2])));
  }
  return out;
}

/**
 * Why HAProxy could not listen on `address:port`, found by listening there
 * for a moment: another process holds the port, or the address is not one
 * of this host's. Undefined when it can.
 */
export function bindProblem(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const where = bindKey(address, port);
      if (err.code === 'EADDRINUSE') resolve(`berth.lb.port: ${where} is in use by another process`);
      else if (err.code === 'EADDRNOTAVAIL')
        resolve(`berth.lb.bind: ${address} is not an address of this host`);
      else resolve(`berth.lb.port: cannot listen on ${where}: ${err.code ?? err.message}`);
    });
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
