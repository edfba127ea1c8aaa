/**
 * When HAProxy refuses one service (`haproxy -c` naming a line of its
 * section, or a reload naming its frontend), the manager leaves that service
 * out and applies the rest: these pure functions find the service and decide
 * what is left out.
 */
import { messageOf } from '../../runtime/base/errors.js';
import { sameSpec } from './labels.js';
import type { DesiredState } from './model.js';
import { type LbState, normaliseForReload, type Plan } from './slots.js';
import { ConfigRejectedError } from './validate.js';

/**
 * At most this many services are left out of one apply because HAProxy
 * refused them: each costs one more check or reload, so a flood of bad
 * services cannot turn one catalog change into hundreds of them.
 */
export const MAX_REFUSED_PER_APPLY = 8;

/** Services HAProxy refused during one apply: dropped outright, or kept on their previous labels. */
export interface Refusals {
  dropped: Set<string>;
  keptOld: Set<string>;
  /** HAProxy's complaints so far: the same one for a second service is the template's fault, not theirs. */
  complaints: Set<string>;
}

export function noRefusals(): Refusals {
  return { dropped: new Set(), keptOld: new Set(), complaints: new Set() };
}

/** HAProxy's complaint without the line it named (the same keyword error in two services reads the same). */
export function complaintOf(err: unknown): string {
  return err instanceof ConfigRejectedError ? err.problem.message : messageOf(err);
}

/** How one attempt at applying a desired state ended: done (applied or failed for good), or HAProxy refused one service. */
export type Attempt =
  | { done: true }
  | { done: false; service: string; stage: 'validate' | 'reload'; err: unknown };

/** `plan` (from planSlots) with the services HAProxy refused outright taken out of the result (a reload). */
export function withoutRefused(plan: Plan, refused: Refusals): Plan {
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
 * serves now (`state`) and changed its labels keeps the labels HAProxy
 * accepted (with the current instances); a new one, or one refused again, is
 * dropped.
 */
export function leaveOut(
  state: LbState,
  desired: DesiredState,
  refused: Refusals,
  service: string,
  err: unknown,
): void {
  refused.complaints.add(complaintOf(err));
  const prev = state.get(service);
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

/**
 * The LB service whose section holds line `line` (1-based) of `text`, if it
 * is one berth knows (in `desired`) and it is new or changed its labels
 * against `state`.
 */
export function serviceAt(
  text: string,
  line: number | undefined,
  state: LbState,
  desired: DesiredState | undefined,
): string | undefined {
  if (line === undefined) return undefined;
  const lines = text.split('\n');
  for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
    const m = /^\s*(frontend|backend|listen)\s+'?([^'\s]+)'?/.exec(lines[i] ?? '');
    if (m === null) continue;
    const name = (m[2] ?? '').replace(/^(fe|be)_/, '');
    // Only a service that is new or changed its labels: a section HAProxy
    // accepted before failing now means the template (or HAProxy) changed,
    // and leaving services out would not fix that.
    const want = desired?.services.get(name);
    const prev = state.get(name);
    if (want === undefined) return undefined;
    return prev === undefined || !sameSpec(prev.spec, want.spec) ? name : undefined;
  }
  return undefined;
}

/** A service of `plan` whose frontend HAProxy's reload output says it could not start, and that is new or changed. */
export function refusedFrontend(output: string, plan: Plan, state: LbState): string | undefined {
  for (const m of output.matchAll(/Starting (?:frontend|proxy) '?fe_([A-Za-z0-9_.-]+)'?:/g)) {
    const name = m[1] ?? '';
    const now = plan.next.get(name);
    const before = state.get(name);
    if (now !== undefined && (before === undefined || !sameSpec(before.spec, now.spec))) return name;
  }
  return undefined;
}
