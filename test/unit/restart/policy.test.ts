import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../../runtime/base/backoff.js';
import {
  formatRestartPolicy,
  parseRestartPolicy,
  shouldRestart,
  startOnAgentStart,
} from '../../../runtime/restart/policy.js';

describe('restart policies', () => {
  it('parse like Docker and reject anything else naming the field', () => {
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { name: 'on-failure', maxRetries: 3 });
    assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maxRetries: 0 });
    assert.equal(formatRestartPolicy(parseRestartPolicy('on-failure:3')), 'on-failure:3');
    assert.throws(
      () => parseRestartPolicy('sometimes'),
      /restart: must be no, on-failure\[:N\], always or unless-stopped, got "sometimes"/,
    );
    assert.throws(() => parseRestartPolicy('always:3'), /only on-failure takes a retry count/);
  });

  it('decide restarts by exit code, retries and who stopped it', () => {
    const onFailure3 = parseRestartPolicy('on-failure:3');
    assert.equal(shouldRestart(onFailure3, { exitCode: 1, stoppedByUser: false, restartCount: 2 }), true);
    assert.equal(shouldRestart(onFailure3, { exitCode: 1, stoppedByUser: false, restartCount: 3 }), false);
    assert.equal(shouldRestart(onFailure3, { exitCode: 0, stoppedByUser: false, restartCount: 0 }), false);
    assert.equal(
      shouldRestart(parseRestartPolicy('on-failure'), {
        exitCode: 2,
        stoppedByUser: false,
        restartCount: 99,
      }),
      true,
    );
    assert.equal(
      shouldRestart(parseRestartPolicy('always'), { exitCode: 0, stoppedByUser: false, restartCount: 5 }),
      true,
    );
    assert.equal(
      shouldRestart(parseRestartPolicy('always'), { exitCode: 1, stoppedByUser: true, restartCount: 0 }),
      false,
    );
    assert.equal(
      shouldRestart(parseRestartPolicy('no'), { exitCode: 1, stoppedByUser: false, restartCount: 0 }),
      false,
    );
  });

  it('bring always back at agent start, unless-stopped only if the user had not stopped it', () => {
    assert.equal(startOnAgentStart(parseRestartPolicy('always'), true), true);
    assert.equal(startOnAgentStart(parseRestartPolicy('unless-stopped'), true), false);
    assert.equal(startOnAgentStart(parseRestartPolicy('unless-stopped'), false), true);
    assert.equal(startOnAgentStart(parseRestartPolicy('on-failure'), false), false);
  });

  it('back off exponentially, capped, with jitter below the nominal delay', () => {
    const opts = { initialMs: 100, maxMs: 1000, jitter: 0.5, resetAfterMs: 10_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 0)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelay(2, opts, () => 1),
      200,
    );
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, opts);
      assert.ok(d >= 400 && d <= 800, `jittered delay ${d} out of range`);
    }
  });
});
