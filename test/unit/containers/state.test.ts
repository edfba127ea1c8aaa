import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertTransition,
  IllegalTransitionError,
  type LifecycleEvent,
  nextState,
  TRANSITIONS,
  transition,
} from '../../../runtime/containers/state.js';
import type { ContainerState } from '../../../runtime/types.js';
import { recordingLogger } from './fakes.js';

const STATES: ContainerState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing'];
const EVENTS: LifecycleEvent[] = [
  'start',
  'start-failed',
  'adopt',
  'exit',
  'schedule-restart',
  'cancel-restart',
  'remove',
];

/** The whole table, written out: state → event → next (absent: refused). */
const EXPECTED: Record<ContainerState, Partial<Record<LifecycleEvent, ContainerState>>> = {
  created: {
    start: 'running',
    'start-failed': 'created',
    adopt: 'running',
    exit: 'exited',
    remove: 'removing',
  },
  running: {
    start: 'running',
    'start-failed': 'exited',
    adopt: 'running',
    exit: 'exited',
    remove: 'removing',
  },
  restarting: {
    start: 'running',
    'start-failed': 'exited',
    adopt: 'running',
    exit: 'exited',
    'cancel-restart': 'exited',
    remove: 'removing',
  },
  exited: {
    start: 'running',
    'start-failed': 'exited',
    adopt: 'running',
    exit: 'exited',
    'schedule-restart': 'restarting',
    remove: 'removing',
  },
  paused: { remove: 'removing' },
  dead: { remove: 'removing' },
  removing: { remove: 'removing' },
};

describe('container state machine', () => {
  it('the table covers every state and no event beyond the known ones', () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...STATES].sort());
    for (const s of STATES)
      for (const e of Object.keys(TRANSITIONS[s])) assert.ok(EVENTS.includes(e as LifecycleEvent));
  });

  for (const from of STATES) {
    for (const event of EVENTS) {
      const to = EXPECTED[from][event];
      if (to !== undefined) {
        it(`${from} --${event}--> ${to}`, () => {
          const { logger, lines } = recordingLogger();
          const rec = { id: 'a'.repeat(64), state: from };
          assert.equal(nextState(from, event), to);
          assert.equal(transition(rec, event, logger), to);
          assert.equal(rec.state, to);
          assert.equal(lines.length, 0);
        });
      } else {
        it(`${from} refuses ${event}: an error naming both, logged, state unchanged`, () => {
          const { logger, lines } = recordingLogger();
          const rec = { id: 'b'.repeat(64), state: from };
          assert.equal(nextState(from, event), undefined);
          assert.throws(
            () => transition(rec, event, logger),
            (err: unknown) =>
              err instanceof IllegalTransitionError &&
              err.code === 'FailedPrecondition' &&
              err.message.startsWith(`container bbbbbbbbbbbb: ${event} is not allowed in state ${from}`),
          );
          assert.equal(rec.state, from);
          assert.equal(lines.length, 1);
          assert.equal(lines[0]?.msg, 'illegal container state transition refused');
          assert.equal(lines[0]?.from, from);
          assert.equal(lines[0]?.event, event);
          assert.throws(() => assertTransition(rec, event, logger), IllegalTransitionError);
        });
      }
    }
  }

  it('the message lists what the state allows', () => {
    const { logger } = recordingLogger();
    assert.throws(
      () => transition({ id: 'c'.repeat(64), state: 'removing' }, 'start', logger),
      /start is not allowed in state removing \(allowed: remove\)/,
    );
    assert.throws(
      () => transition({ id: 'c'.repeat(64), state: 'created' }, 'schedule-restart', logger),
      /\(allowed: start, start-failed, adopt, exit, remove\)/,
    );
  });
});
