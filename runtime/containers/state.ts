import { FailedPreconditionError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ContainerState } from '../types.js';

/**
 * The container state machine: every state change goes through `transition`
 * with one of these events, and the table below says which changes exist.
 *
 *   created ──start──► running ──exit──► exited ──schedule-restart──► restarting
 *      ▲                  ▲                │  ▲                          │
 *      └─ start-failed    └──────start─────┘  └──cancel-restart / exit───┘
 *   any state ──remove──► removing (then the record is gone; from removing: a
 *   removal that failed half-way is tried again rather than leaving the name taken)
 *
 * `adopt` is live restore finding the container running in the OCI runtime
 * (also one whose start an earlier agent did not record).
 */
export type LifecycleEvent =
  /** The OCI runtime started it (a user's start or a scheduled restart). */
  | 'start'
  /** A start failed before the container ran, or its last save did. */
  | 'start-failed'
  /** Live restore: the runtime says it runs. */
  | 'adopt'
  /** Its init exited (or a start never completed): the exit is recorded. */
  | 'exit'
  /** The restart policy asked for a restart after a delay. */
  | 'schedule-restart'
  /** stop while a restart was pending. */
  | 'cancel-restart'
  /** rm, or the removal of a --rm container after its exit. */
  | 'remove';

const REMOVE = { remove: 'removing' } as const;

/** state × event → next state; a missing entry is an illegal transition. */
export const TRANSITIONS: Readonly<
  Record<ContainerState, Readonly<Partial<Record<LifecycleEvent, ContainerState>>>>
> = {
  created: { start: 'running', 'start-failed': 'created', adopt: 'running', exit: 'exited', ...REMOVE },
  running: { start: 'running', 'start-failed': 'exited', adopt: 'running', exit: 'exited', ...REMOVE },
  restarting: {
    start: 'running',
    'start-failed': 'exited',
    adopt: 'running',
    exit: 'exited',
    'cancel-restart': 'exited',
    ...REMOVE,
  },
  exited: {
    start: 'running',
    'start-failed': 'exited',
    adopt: 'running',
    exit: 'exited',
    'schedule-restart': 'restarting',
    ...REMOVE,
  },
  // Never entered by berth's own runtime (no pause; no dead state): only removal leaves them.
  paused: { ...REMOVE },
  dead: { ...REMOVE },
  removing: { ...REMOVE },
};

/** Thrown for a transition the table does not allow; nothing was changed. */
export class IllegalTransitionError extends FailedPreconditionError {
  constructor(
    readonly id: string,
    readonly from: ContainerState,
    readonly event: LifecycleEvent,
  ) {
    super(
      `container ${id.slice(0, 12)}: ${event} is not allowed in state ${from} (allowed: ${allowedEvents(from).join(', ') || 'none'})`,
    );
  }
}

/** The state `event` leads to from `from`, or undefined when the table refuses it. */
export function nextState(from: ContainerState, event: LifecycleEvent): ContainerState | undefined {
  return TRANSITIONS[from][event];
}

export function allowedEvents(from: ContainerState): LifecycleEvent[] {
  return Object.keys(TRANSITIONS[from]) as LifecycleEvent[];
}

/** Throws (and logs) IllegalTransitionError unless `event` is allowed in `rec.state`; changes nothing. */
export function assertTransition(
  rec: { id: string; state: ContainerState },
  event: LifecycleEvent,
  logger: Logger,
): ContainerState {
  const to = nextState(rec.state, event);
  if (to !== undefined) return to;
  const err = new IllegalTransitionError(rec.id, rec.state, event);
  logger.error({ err, id: rec.id, from: rec.state, event }, 'illegal container state transition refused');
  throw err;
}

/** Applies `event` to `rec.state` by the table; an illegal one throws and leaves the state as it was. */
export function transition(
  rec: { id: string; state: ContainerState },
  event: LifecycleEvent,
  logger: Logger,
): ContainerState {
  rec.state = assertTransition(rec, event, logger);
  return rec.state;
}
