import { InvalidArgumentError } from '../../runtime/base/errors.js';

/**
 * Test hook (BERTH_TEST_ROLLOUT_CRASH_AT): the agent SIGKILLs itself at this
 * point of a rollout, the first time it gets there, so a test sees what the
 * next agent makes of the saved state. Each point is just after a step took
 * effect and before the state recording it was saved: the worst moment.
 * Unset in production; nothing else reads it. (The container manager's own
 * points, BERTH_TEST_CRASH_AT, stop a single container start.)
 */
export const ROLLOUT_CRASH_POINTS = ['after-new-started', 'after-new-ready', 'after-old-retired'] as const;
export type RolloutCrashPoint = (typeof ROLLOUT_CRASH_POINTS)[number];

/** The hook's value, checked: a misspelt point is an error, not a test that never crashes. */
export function rolloutCrashAt(env: NodeJS.ProcessEnv = process.env): RolloutCrashPoint | undefined {
  const v = env.BERTH_TEST_ROLLOUT_CRASH_AT ?? '';
  if (v === '') return undefined;
  if (!(ROLLOUT_CRASH_POINTS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(
      `BERTH_TEST_ROLLOUT_CRASH_AT: a test hook, must be one of ${ROLLOUT_CRASH_POINTS.join(', ')} (or unset), got ${JSON.stringify(v)}`,
      { field: 'BERTH_TEST_ROLLOUT_CRASH_AT' },
    );
  }
  return v as RolloutCrashPoint;
}

/** SIGKILL this process when `at` is the configured point. */
export function crashIfAsked(configured: RolloutCrashPoint | undefined, at: RolloutCrashPoint): void {
  if (configured !== at) return;
  // Synchronous on pipes and files, so the line is out before the kill.
  process.stderr.write(`BERTH_TEST_ROLLOUT_CRASH_AT=${at}: the agent kills itself here (a test hook)\n`);
  process.kill(process.pid, 'SIGKILL');
}
