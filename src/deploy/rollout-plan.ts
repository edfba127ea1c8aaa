import type { ComposeService, ComposeUpdateConfig } from '../compose/types.js';
import type { Replica } from './contract.js';

/**
 * The rolling update's arithmetic, pure so the unit tests pin it: which
 * replicas the next batch starts and retires, which indexes new replicas take,
 * how long a replica may take to get ready, when failures are too many.
 *
 * Every decision is derived from the replicas alive now (not from a counter
 * kept aside), so the same function plans the first batch and the batch after
 * an agent restart: replicas a killed agent started are counted, none twice.
 */

/** What one batch does: start this many replicas of the new revision, retire these. */
export interface Batch {
  start: number;
  retire: Replica[];
}

/** `parallelism: 0` means all at once, as in Docker. */
export function batchSize(cfg: ComposeUpdateConfig, replicas: number, old: number): number {
  return cfg.parallelism > 0 ? cfg.parallelism : Math.max(1, replicas, old);
}

/**
 * The next batch, or null when the service has exactly `replicas` replicas of
 * `toHash` and nothing else.
 *
 * start-first keeps at least `replicas` running and at most `replicas + p`
 * (p = the batch size): it starts up to p new ones while under that surge
 * bound, and retires only what is over `replicas` (the engine asks again
 * once the batch's new ones are ready, so their count is known).
 * stop-first keeps at most `replicas`: it retires up to p first (only what is
 * over `replicas - p`), then starts what is missing. The bounds, not the
 * batch count, make a resumed rollout do the right thing: after a crash that
 * left a new replica ready and all old ones running, start-first retires one
 * before starting another.
 *
 * Retire order: replicas in `failed` first (a sick new one in a rollback),
 * then old ones by index, then surplus new ones from the highest index.
 */
export function nextBatch(
  live: readonly Replica[],
  toHash: string,
  replicas: number,
  cfg: ComposeUpdateConfig,
  failed: ReadonlySet<string> = new Set(),
): Batch | null {
  const fresh = live.filter((r) => r.configHash === toHash);
  const old = live.filter((r) => r.configHash !== toHash);
  const surplus = Math.max(0, fresh.length - replicas);
  if (old.length === 0 && surplus === 0 && fresh.length === replicas) return null;
  const p = batchSize(cfg, replicas, old.length);
  const order = retireOrder(old, fresh, surplus, failed);
  const missing = Math.max(0, replicas - fresh.length);
  const total = live.length;
  if (cfg.order === 'start-first') {
    // What is over `replicas` now: a start that fails must not cost an old replica.
    const start = Math.min(p, missing, Math.max(0, replicas + p - total));
    return { start, retire: order.slice(0, Math.max(0, Math.min(p, total - replicas))) };
  }
  const retireCount = Math.min(p, Math.max(0, total - (replicas - p)));
  const retire = order.slice(0, retireCount);
  const start = Math.min(p, missing, Math.max(0, replicas - (total - retire.length)));
  return { start, retire };
}

function retireOrder(
  old: readonly Replica[],
  fresh: readonly Replica[],
  surplus: number,
  failed: ReadonlySet<string>,
): Replica[] {
  const byIndex = (a: Replica, b: Replica): number => a.index - b.index;
  const sick = (r: Replica): number => (failed.has(r.id) ? 0 : 1);
  const olds = [...old].sort((a, b) => sick(a) - sick(b) || byIndex(a, b));
  const extra = [...fresh].sort((a, b) => sick(a) - sick(b) || byIndex(b, a)).slice(0, surplus);
  return [...olds, ...extra];
}

/**
 * The `n` lowest indexes (from 1) that no live replica holds. New replicas
 * take these: stop-first reuses the index its batch just retired, start-first
 * takes one above the running ones while both run and then the freed ones,
 * so indexes stay small and names (`<project>-<service>-<n>`) never clash.
 */
export function freeIndexes(live: readonly Replica[], n: number): number[] {
  const used = new Set(live.map((r) => r.index));
  const out: number[] = [];
  for (let i = 1; out.length < n; i++) if (!used.has(i)) out.push(i);
  return out;
}

/** Docker's healthcheck defaults, for an image check whose timings the file does not set. */
const HC_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };
/** Beyond the health check: catalog registration and HAProxy marking the server UP. */
const READY_SLACK_MS = 30_000;

/**
 * How long a new replica may take to be ready: its start period plus every
 * retry of its check timing out, plus slack for registration and the HAProxy
 * backend. A check that fails makes the replica unhealthy (and `ready` reject)
 * sooner; this bounds one that neither passes nor fails.
 */
export function readyTimeoutMs(service: ComposeService): number {
  const hc = service.healthcheck;
  if (hc?.disable === true) return READY_SLACK_MS;
  const interval = hc?.intervalMs ?? HC_DEFAULTS.intervalMs;
  const timeout = hc?.timeoutMs ?? HC_DEFAULTS.timeoutMs;
  const retries = hc?.retries ?? HC_DEFAULTS.retries;
  const startPeriod = hc?.startPeriodMs ?? HC_DEFAULTS.startPeriodMs;
  return startPeriod + (interval + timeout) * (retries + 1) + READY_SLACK_MS;
}

/**
 * Docker's rule: the update fails when failures exceed `max_failure_ratio` of
 * the replicas being updated (0, the default, tolerates none).
 */
export function overFailureRatio(failures: number, replicas: number, ratio: number): boolean {
  return failures > ratio * Math.max(1, replicas);
}
