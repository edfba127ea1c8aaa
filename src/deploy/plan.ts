import type { ComposeDependency } from '../compose/types.js';
import { restartPolicy } from './spec.js';
import type { Action, ActualReplica, DesiredService } from './types.js';

export interface PlanInput {
  /** The project's enabled services. */
  desired: DesiredService[];
  /** Every replica of the project the runtime has (any state). */
  actual: ActualReplica[];
  /** Remove replicas of services the project no longer declares. */
  removeOrphans: boolean;
  /** Services a rollout owns now: the planner leaves them alone. */
  rolling: ReadonlySet<string>;
  /** Now, in ms since the epoch (the policy grace below is measured from a replica's exit). */
  now?: number;
}

/**
 * How long an exited replica is left to a restart policy that may restart it
 * (`always`, `unless-stopped`, `on-failure` after a failure): the runtime
 * records the exit, frees the replica's host state, then schedules the
 * restart (state `restarting`), so a replica seen `exited` just after its
 * exit may be about to come back. Past this it is replaced (the policy gave
 * up, or the replica was stopped by hand). A policy of `no` is not waited for.
 */
export const POLICY_GRACE_MS = 3000;

/**
 * The reconciler's diff, pure (desired + actual → actions), so it can be
 * printed and tested alone. Per service, in depends_on order: duplicates of
 * an index are removed, then replicas beyond the desired count (highest index
 * first); replicas that exited non-zero or never started, which the restart
 * policy did not take back (the runtime shows `restarting` while it does),
 * are replaced; missing replicas are created once every dependency meets its
 * condition (else a `wait`), at the lowest free indexes; running replicas of another config hash go to
 * one `rollout`. A replica that exited 0 has completed (a one-shot job) and
 * is left as it is unless its config changed. Orphans (services no longer
 * declared) are removed only with `removeOrphans`.
 */
export function plan(input: PlanInput): Action[] {
  const out: Action[] = [];
  const byService = new Map<string, ActualReplica[]>();
  for (const r of input.actual) {
    const list = byService.get(r.service) ?? [];
    list.push(r);
    byService.set(r.service, list);
  }
  const desired = new Map(input.desired.map((d) => [d.name, d]));
  for (const d of dependencyOrder(input.desired)) {
    if (input.rolling.has(d.name)) continue;
    const replicas = [...(byService.get(d.name) ?? [])].sort((a, b) => a.index - b.index);
    const kept = new Map<number, ActualReplica>();
    for (const r of replicas) {
      if (r.state === 'removing') continue;
      const other = kept.get(r.index);
      if (other !== undefined) {
        // Two containers claim one index (a crash between create and record): keep the better one.
        const [keep, drop] = rank(r, d) > rank(other, d) ? [r, other] : [other, r];
        kept.set(r.index, keep);
        out.push({ kind: 'remove', service: d.name, replica: drop, reason: 'duplicate' });
        continue;
      }
      kept.set(r.index, r);
    }
    // Scale down from the highest index (a rollout gives new replicas free indexes, so the
    // count matters, not the positions 1..n).
    const ordered = [...kept.values()].sort((a, b) => b.index - a.index);
    while (ordered.length > d.replicas) {
      const r = ordered.shift();
      if (r === undefined) break;
      kept.delete(r.index);
      out.push({ kind: 'remove', service: d.name, replica: r, reason: 'scale-down' });
    }
    const waits = unmetDependencies(d, desired, byService);
    const stale: ActualReplica[] = [];
    for (const r of [...kept.values()].sort((a, b) => a.index - b.index)) {
      const current = r.configHash === d.rev.configHash;
      const dead = r.state === 'exited' || r.state === 'dead' || r.state === 'created';
      if (dead && (r.state !== 'exited' || r.exitCode !== 0 || !current)) {
        const since = (input.now ?? Date.now()) - Date.parse(r.finishedAt ?? '');
        if (current && r.state === 'exited' && mayRestart(d, r) && since < POLICY_GRACE_MS) {
          out.push({ kind: 'recheck', service: d.name, replica: r, afterMs: POLICY_GRACE_MS - since });
        } else if (waits.length === 0) {
          const reason =
            r.state === 'created'
              ? 'never started'
              : !current
                ? 'config changed'
                : `exited with code ${r.exitCode ?? '?'} and its restart policy does not restart it`;
          out.push({ kind: 'replace', service: d.name, replica: r, reason });
        }
      } else if (!current && !dead) {
        stale.push(r);
      }
    }
    for (const w of waits) out.push({ kind: 'wait', service: d.name, on: w.on, condition: w.condition });
    if (waits.length === 0) {
      let missing = d.replicas - kept.size;
      for (let i = 1; missing > 0; i++) {
        if (kept.has(i)) continue;
        out.push({ kind: 'create', service: d.name, index: i });
        missing--;
      }
    }
    if (stale.length > 0) out.push({ kind: 'rollout', service: d.name, stale });
  }
  if (input.removeOrphans) {
    for (const [service, list] of byService) {
      if (desired.has(service)) continue;
      for (const r of list.sort((a, b) => b.index - a.index)) {
        out.push({ kind: 'remove', service, replica: r, reason: 'orphan' });
      }
    }
  }
  return out;
}

/** Whether the service's restart policy may restart this exit (then it acts first). */
function mayRestart(d: DesiredService, r: ActualReplica): boolean {
  const p = restartPolicy(d.rev.service);
  if (p === 'always' || p === 'unless-stopped') return true;
  return p.startsWith('on-failure') && r.exitCode !== 0;
}

/** Higher is better: running on the desired config, then running, then anything. */
function rank(r: ActualReplica, d: DesiredService): number {
  return (r.state === 'running' ? 2 : 0) + (r.configHash === d.rev.configHash ? 1 : 0);
}

/** The dependencies of `d` whose condition is not met now (optional ones that are not declared are skipped). */
export function unmetDependencies(
  d: DesiredService,
  desired: ReadonlyMap<string, DesiredService>,
  actual: ReadonlyMap<string, ActualReplica[]>,
): Array<{ on: string; condition: ComposeDependency['condition'] }> {
  const out: Array<{ on: string; condition: ComposeDependency['condition'] }> = [];
  for (const [on, dep] of Object.entries(d.dependsOn)) {
    const target = desired.get(on);
    if (target === undefined) continue;
    if (target.replicas === 0) continue;
    const rs = (actual.get(on) ?? []).filter((r) => r.configHash === target.rev.configHash);
    const met = rs.filter((r) => meets(r, dep.condition)).length >= target.replicas;
    if (!met) out.push({ on, condition: dep.condition });
  }
  return out;
}

function meets(r: ActualReplica, condition: ComposeDependency['condition']): boolean {
  switch (condition) {
    case 'service_started':
      return r.state === 'running' || (r.state === 'exited' && r.exitCode === 0);
    case 'service_healthy':
      // A dependency without a health check counts as healthy once running, as a started one would.
      return r.state === 'running' && (r.health === 'healthy' || r.health === 'none');
    case 'service_completed_successfully':
      return r.state === 'exited' && r.exitCode === 0;
  }
}

/** Services with their dependencies first (the loader has refused cycles); ties in declaration order. */
export function dependencyOrder(services: DesiredService[]): DesiredService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: DesiredService[] = [];
  const visit = (s: DesiredService, path: Set<string>) => {
    if (done.has(s.name) || path.has(s.name)) return;
    path.add(s.name);
    for (const dep of Object.keys(s.dependsOn)) {
      const t = byName.get(dep);
      if (t !== undefined) visit(t, path);
    }
    done.add(s.name);
    out.push(s);
  };
  for (const s of services) visit(s, new Set());
  return out;
}
