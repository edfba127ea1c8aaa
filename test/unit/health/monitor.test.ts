import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthMonitor } from '../../../runtime/health/monitor.js';
import { parseHealthProbe } from '../../../runtime/health/parse.js';
import type { ProbeResult } from '../../../runtime/health/types.js';
import type { HealthStatus } from '../../../runtime/types.js';

function monitor(
  results: Array<boolean | 'hang'>,
  cfg: Partial<{ retries: number; startPeriodMs: number; timeoutMs: number }> = {},
) {
  const changes: HealthStatus[] = [];
  let i = 0;
  const mon = new HealthMonitor(
    {
      probe: { kind: 'cmd', argv: ['true'] },
      intervalMs: 10,
      timeoutMs: cfg.timeoutMs ?? 1000,
      retries: cfg.retries ?? 2,
      startPeriodMs: cfg.startPeriodMs ?? 0,
    },
    async (_p, signal): Promise<ProbeResult> => {
      const r = results[Math.min(i++, results.length - 1)];
      if (r === 'hang') {
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      }
      return { ok: r === true, output: r === true ? 'ok' : 'fail' };
    },
    (s) => changes.push(s),
  );
  return { mon, changes };
}

describe('health monitor', () => {
  it('goes healthy on the first success and unhealthy after `retries` failures in a row', async () => {
    const { mon, changes } = monitor([true, false, true, false, false, false]);
    for (let n = 0; n < 6; n++) await mon.tick();
    mon.stop();
    assert.deepEqual(changes, ['healthy', 'unhealthy']);
    assert.equal(mon.state.failingStreak, 3);
    assert.equal(mon.state.log.length, 5, 'keeps the last five results like Docker');
  });

  it('does not count failures during the start period', async () => {
    const { mon, changes } = monitor([false, false, false, true], { retries: 1, startPeriodMs: 60_000 });
    for (let n = 0; n < 4; n++) await mon.tick();
    mon.stop();
    assert.deepEqual(changes, ['healthy']);
  });

  it('treats a probe that outlives its timeout as a failure', async () => {
    const { mon, changes } = monitor(['hang'], { retries: 1, timeoutMs: 30 });
    await mon.tick();
    mon.stop();
    assert.deepEqual(changes, ['unhealthy']);
    assert.match(mon.state.log[0]?.output ?? '', /timed out after 30ms/);
  });

  it('runs on its own interval until stopped', async () => {
    const { mon, changes } = monitor([true]);
    mon.start();
    // Two probes on its own 10 ms timer: bounded wait, not a fixed pause (each probe is scheduled when the
    // last one ends, so on a loaded machine the second can come after any fixed pause).
    for (let i = 0; i < 300 && mon.state.log.length < 2; i++) await sleep(10);
    mon.stop();
    assert.deepEqual(changes, ['healthy']);
    assert.ok(mon.state.log.length >= 2);
  });

  it('parses Docker and berth probe forms, naming the field on error', () => {
    assert.deepEqual(parseHealthProbe(['CMD', 'wget', '-q', 'x']), {
      kind: 'cmd',
      argv: ['wget', '-q', 'x'],
    });
    assert.deepEqual(parseHealthProbe(['CMD-SHELL', 'exit 0']), {
      kind: 'cmd',
      argv: ['/bin/sh', '-c', 'exit 0'],
    });
    assert.equal(parseHealthProbe(['NONE']), undefined);
    assert.deepEqual(parseHealthProbe({ http: 'http://localhost:80/health' }), {
      kind: 'http',
      url: 'http://localhost:80/health',
    });
    assert.deepEqual(parseHealthProbe({ tcp: 6379 }), { kind: 'tcp', port: 6379 });
    assert.throws(() => parseHealthProbe({ tcp: 70000 }), /healthcheck\.test: must be/);
  });
});
