import type { BackoffOptions } from '../base/backoff.js';
import { InvalidArgumentError } from '../base/errors.js';
import type { RestartPolicy, RestartPolicyName } from './types.js';

/**
 * Restart decisions, pure: the policy parsed from Docker's notation, whether
 * an exit is restarted, whether the agent's start brings a container back,
 * and the delay before a restart. The container manager applies them
 * (runtime/containers/restarts.ts keeps the timers).
 */

export function parseRestartPolicy(input: string, field = 'restart'): RestartPolicy {
  const m = /^(no|on-failure|always|unless-stopped)(?::(\d+))?$/.exec(input.trim());
  if (!m) {
    throw new InvalidArgumentError(
      `${field}: must be no, on-failure[:N], always or unless-stopped, got ${JSON.stringify(input)}`,
      { field },
    );
  }
  const name = m[1] as RestartPolicyName;
  if (m[2] !== undefined && name !== 'on-failure') {
    throw new InvalidArgumentError(
      `${field}: only on-failure takes a retry count, got ${JSON.stringify(input)}`,
      {
        field,
      },
    );
  }
  return { name, maxRetries: m[2] ? Number(m[2]) : 0 };
}

export function formatRestartPolicy(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maxRetries > 0 ? `on-failure:${p.maxRetries}` : p.name;
}

export interface ExitFacts {
  exitCode: number;
  /** The user asked for the stop (berth stop/kill/rm): never restart. */
  stoppedByUser: boolean;
  /** Restarts already done since the container was last started by the user. */
  restartCount: number;
}

/** Whether a container that just exited should be restarted. */
export function shouldRestart(policy: RestartPolicy, facts: ExitFacts): boolean {
  if (facts.stoppedByUser) return false;
  switch (policy.name) {
    case 'no':
      return false;
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      if (facts.exitCode === 0) return false;
      return policy.maxRetries === 0 || facts.restartCount < policy.maxRetries;
  }
}

/** Whether a container should be started when the agent starts (live-restore found it not running). */
export function startOnAgentStart(policy: RestartPolicy, stoppedByUser: boolean): boolean {
  if (policy.name === 'always') return true;
  if (policy.name === 'unless-stopped') return !stoppedByUser;
  return false;
}

/**
 * How restarts back off: runtime/base's formula (`backoffDelay(restartCount,
 * …)`: exponential, capped, jitter below the nominal delay so that many
 * containers failing together do not restart in lock-step), plus a reset.
 */
export interface RestartBackoff extends BackoffOptions {
  /** A run longer than this resets the backoff (the container was healthy for a while). */
  resetAfterMs: number;
}

/** Docker starts at 100 ms and doubles; the delay is drawn from [d·(1−0.2), d]. */
export const DEFAULT_BACKOFF: RestartBackoff = {
  initialMs: 100,
  maxMs: 60_000,
  jitter: 0.2,
  resetAfterMs: 10_000,
};
