/**
 * Issue 12 item 15 through a real agent: the receiver is the Fluent org's
 * FluentServer (@fluent-org/logger) with a shared key. First the agent runs
 * with the wrong key (env BERTH_LOGS_SHARED_KEY): its log names the receiver
 * and the reason, /metrics counts the failed handshakes, nothing arrives.
 * Restarted with the right key, every line the container printed arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FluentServer } from '@fluent-org/logger';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { agentWithImage, IMAGE, ok } from './e2e.js';

const KEY = 'secure-forward-key';
const TOTAL = 2000;

describe('log shipping to a Fluentd that demands the handshake', () => {
  let server: FluentServer | undefined;
  let agent: TestAgent | undefined;
  const lines = new Set<string>();
  before(async () => {
    server = new FluentServer({
      listenOptions: { host: '127.0.0.1', port: 0 },
      security: { serverHostname: 'fluentd.test', sharedKey: KEY, authorize: false, userDict: {} },
    });
    server.on('entry', (_tag: string, _time: unknown, record: Record<string, unknown>) => {
      if (record.container_name === NAME) lines.add(String(record.log));
    });
    await server.listen();
  });
  after(async () => {
    await agent?.stop();
    await server?.close();
  });
  const NAME = `secure-${process.pid}`;

  test('a wrong key: logged with the receiver, counted, nothing lost; the right key after a restart delivers all', async () => {
    assert.ok(server?.port);
    const port = server.port;
    agent = await agentWithImage(['--fluentd', `127.0.0.1:${port}`]);
    const a = agent;
    // The harness starts agents without a key: stop it (SIGTERM), start it again with one.
    await a.process().stop('SIGTERM', 10_000);
    await a.restart({ agentEnv: { BERTH_LOGS_SHARED_KEY: 'wrong-key' } });
    await ok(a, ['run', '-d', '--name', NAME, IMAGE, 'sh', '-c', `seq 1 ${TOTAL}`]);
    const metricsUrl = String(((await a.info()).endpoints as Record<string, string>).metrics);
    const failures = await pollUntil(
      'a failed handshake on /metrics',
      async () => {
        const text = await (await fetch(metricsUrl)).text();
        const m = new RegExp(
          `berth_logs_handshake_failures_total\\{server="127\\.0\\.0\\.1:${port}"\\} (\\d+)`,
        ).exec(text);
        return m && Number(m[1]) >= 1 ? Number(m[1]) : undefined;
      },
      20_000,
      250,
    );
    const log = a.process().output();
    assert.match(log, new RegExp(`log receiver 127\\.0\\.0\\.1:${port}: Forward handshake failed`), log);
    assert.match(log, /shared key mismatch/);
    assert.ok(!log.includes('wrong-key') && !log.includes(KEY), 'no key in the agent log');
    assert.equal(lines.size, 0, 'nothing delivered with the wrong key');

    await a.process().stop('SIGTERM', 10_000);
    await a.restart({ agentEnv: { BERTH_LOGS_SHARED_KEY: KEY } });
    await pollUntil(
      'every line delivered',
      async () => (lines.size >= TOTAL ? true : undefined),
      30_000,
      250,
    );
    for (let i = 1; i <= TOTAL; i++) assert.ok(lines.has(String(i)), `line ${i} arrived`);
    assert.ok(failures >= 1);
    await ok(a, ['rm', '-f', NAME]);
  });
});
