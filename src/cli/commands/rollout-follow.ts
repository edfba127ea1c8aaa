import type { RolloutProgress } from '../../deploy/contract.js';
import { RolloutProgressPrinter } from '../../deploy/rollout-progress.js';
import type { ProjectStatus, ServiceStatus } from '../../deploy/types.js';
import type { ApiClient } from '../client.js';

/**
 * Follows the agent's `project.rollout.*` events for one project and draws
 * them with RolloutProgressPrinter, for `berth up` and `berth rollback`. The
 * subscription is opened before the verb's request, so a rollout's first
 * steps are not missed; the status the verb gets back (and the final one)
 * fills in a step whose event came before the subscription or after it closed.
 */
export class RolloutFollower {
  readonly printer: RolloutProgressPrinter;
  /** Services whose rollout this follower has seen running and not yet seen end. */
  readonly open = new Set<string>();
  /** Services with any rollout event seen. */
  readonly seen = new Set<string>();
  private readonly ac = new AbortController();
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    client: ApiClient,
    private readonly project: string,
    out: { isTTY?: boolean; write(s: string): unknown },
  ) {
    this.printer = new RolloutProgressPrinter(out);
    this.done = this.run(client).catch(() => {
      // The stream ends with the agent or on stop(); the verb's own request reports errors.
    });
  }

  private async run(client: ApiClient): Promise<void> {
    const events = client.stream<{ topic: string; event: Record<string, unknown> }>('GET', '/v1/events', {
      query: { topic: 'project.rollout.*' },
      signal: this.ac.signal,
    });
    for await (const env of events) {
      if (this.stopped) break;
      if (env.event.project !== this.project) continue;
      this.update(env.event as unknown as RolloutProgress);
    }
  }

  update(p: RolloutProgress): void {
    this.seen.add(p.service);
    if (p.phase === 'running') this.open.add(p.service);
    else this.open.delete(p.service);
    this.printer.update(p);
  }

  /**
   * Running rollouts in a status the verb got back (their first step may predate
   * the subscription). Only a step being waited on is drawn: a rollout the
   * agent has saved but not yet stepped has no counts (old 0 → new 0), which
   * would mislead, and its first event follows.
   */
  fromStatus(st: ProjectStatus): void {
    for (const s of st.services) {
      if (s.rollout?.phase === 'running' && s.rollout.waiting !== undefined && !this.seen.has(s.name)) {
        this.update(s.rollout);
      }
    }
  }

  /** Ends the rollouts still open with how the final status says they ended, then stops following. */
  async stop(final?: ProjectStatus): Promise<void> {
    // Events still in flight would draw a step after the end: they are dropped.
    this.stopped = true;
    for (const s of final?.services ?? []) {
      if (this.open.has(s.name) && s.rollout && s.rollout.phase !== 'running') this.update(s.rollout);
    }
    this.ac.abort();
    await this.done;
  }
}

/** A replica counts as up: running and healthy (or without a check), or a one-shot that exited 0. */
function replicaUp(r: ServiceStatus['replicas'][number]): boolean {
  return (
    (r.state === 'running' && (r.health === 'healthy' || r.health === 'none')) ||
    (r.state === 'exited' && r.exitCode === 0)
  );
}

function serviceLine(s: ServiceStatus): string {
  const up = s.replicas.filter((r) => r.configHash === s.configHash && replicaUp(r)).length;
  const roll =
    s.rollout && s.rollout.phase === 'running'
      ? ` · ${s.rollout.kind} old ${s.rollout.oldCount} → new ${s.rollout.newCount}${s.rollout.waiting ? `, ${s.rollout.waiting.for} ${s.rollout.waiting.name}` : ''}`
      : '';
  return `${s.name} ${up}/${s.desired} up${roll}`;
}

/**
 * Polls the project until every service has its desired count of current,
 * up replicas and no rollout runs; returns the reason of a failure (a
 * rollout that rolled back, failed or paused; the timeout with the last
 * error) or undefined. Rollout progress is the follower's (its printer's
 * lines); on a terminal a service with no rollout seen gets its convergence
 * line (`web 1/2 up`) in the same block, and off one the lines are printed
 * once at the end. With `service` only that service counts (`rollback`: a
 * broken neighbour does not hold it). The follower is stopped before this returns.
 */
export async function waitConverged(
  client: ApiClient,
  name: string,
  timeoutMs: number,
  o: { follower?: RolloutFollower; quiet?: boolean; service?: string } = {},
): Promise<string | undefined> {
  const tty = process.stderr.isTTY === true;
  const deadline = Date.now() + timeoutMs;
  let last: ProjectStatus | undefined;
  const draw = (st: ProjectStatus) => {
    if (!tty || o.follower === undefined) return;
    for (const s of st.services) {
      if (!o.follower.seen.has(s.name)) o.follower.printer.set(s.name, serviceLine(s));
    }
  };
  const end = async (failure: string | undefined, st: ProjectStatus | undefined) => {
    await o.follower?.stop(st);
    return failure;
  };
  while (Date.now() < deadline) {
    const all = await client.json<ProjectStatus>('GET', `/v1/projects/${encodeURIComponent(name)}`);
    const st =
      o.service === undefined ? all : { ...all, services: all.services.filter((s) => s.name === o.service) };
    last = st;
    draw(st);
    for (const s of st.services) {
      const p = s.rollout;
      if (p && (p.phase === 'rolled-back' || p.phase === 'failed' || p.phase === 'paused')) {
        return end(`${s.name}: rollout ${p.phase}${p.reason ? `: ${p.reason}` : ''}`, st);
      }
    }
    // A service no longer declared (an orphan kept without --remove-orphans) has no config hash.
    const done = st.services.every(
      (s) =>
        s.configHash === '' ||
        ((s.rollout === undefined || s.rollout.phase === 'done') &&
          s.replicas.filter((r) => r.configHash === s.configHash && replicaUp(r)).length >= s.desired &&
          s.replicas.length === s.desired),
    );
    if (done) {
      await end(undefined, st);
      if (!tty && !o.quiet) for (const s of st.services) process.stderr.write(`${serviceLine(s)}\n`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const errs = (last?.services ?? []).flatMap((s) => {
    const down = s.replicas.filter((r) => !replicaUp(r)).map((r) => `${r.name} ${r.state}/${r.health}`);
    const why = [...down, ...(s.lastError ? [s.lastError.message] : [])];
    return why.length > 0 ? [`${s.name}: ${why.join(', ')}`] : [];
  });
  await end(undefined, last);
  return `not up within ${Math.round(timeoutMs / 1000)} s${errs.length > 0 ? ` (${errs.join('; ')})` : ''}: ${(last?.services ?? []).map(serviceLine).join(', ')}`;
}
