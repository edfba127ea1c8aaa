import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Consul from 'consul';
import { type ConsulHandle, sharedConsul, startConsul, stopSharedConsul } from '../../harness/consul.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const execFileAsync = promisify(execFile);

async function dig(port: number, name: string, type: 'A' | 'SRV'): Promise<string[]> {
  const { stdout } = await execFileAsync('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    '+short',
    '+time=1',
    '+tries=1',
    name,
    type,
  ]);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

describe('harness: consul', () => {
  let consul: ConsulHandle | undefined;
  const service = `berth-smoke-${randomBytes(4).toString('hex')}`;

  before(async () => {
    consul = await startConsul();
  });

  after(async () => {
    await consul?.stop();
  });

  it('has elected itself leader on its own loopback ports', async () => {
    assert.ok(consul);
    assert.equal(consul.httpAddr, `127.0.0.1:${consul.httpPort}`);
    const client = new Consul({ host: '127.0.0.1', port: consul.httpPort });
    const leader = await client.status.leader();
    assert.match(String(leader), /^127\.0\.0\.1:\d+$/);
  });

  it('resolves a service registered with the consul client through its own DNS port', async () => {
    assert.ok(consul);
    const client = new Consul({ host: '127.0.0.1', port: consul.httpPort });
    await client.agent.service.register({
      name: service,
      id: `${service}-1`,
      address: '127.0.0.42',
      port: 8080,
    });
    const dnsPort = consul.dnsPort;
    const a = await pollUntil(
      `${service}.service.consul A`,
      async () => {
        const r = await dig(dnsPort, `${service}.service.consul`, 'A');
        return r.length > 0 ? r : undefined;
      },
      10_000,
      200,
    );
    assert.deepEqual(a, ['127.0.0.42']);
    const srv = await dig(dnsPort, `${service}.service.consul`, 'SRV');
    assert.equal(srv.length, 1);
    assert.match(srv[0] ?? '', /^\d+ \d+ 8080 \S+\.$/);
  });
});

describe('harness: the run-wide shared consul', () => {
  const saved = process.env.BERTH_TEST_RUN_DIR;
  let runDir = '';
  let other: ConsulHandle | undefined;

  before(async () => {
    runDir = await tempDir('consul-run');
    process.env.BERTH_TEST_RUN_DIR = runDir;
  });
  after(async () => {
    if (saved === undefined) delete process.env.BERTH_TEST_RUN_DIR;
    else process.env.BERTH_TEST_RUN_DIR = saved;
    await other?.stop();
    if (runDir) {
      await stopSharedConsul(runDir);
      await removeDir(runDir);
    }
  });

  it('is started once, reused by the next caller, outlives stop() and is stopped by the run', async () => {
    const a = await sharedConsul();
    const b = await sharedConsul();
    assert.equal(b.pid, a.pid, 'the second caller got another agent');
    assert.equal(b.httpPort, a.httpPort);
    await a.stop();
    const client = new Consul({ host: '127.0.0.1', port: b.httpPort });
    assert.match(
      String(await client.status.leader()),
      /^127\.0\.0\.1:\d+$/,
      'stop() of a shared handle stopped it',
    );
    await stopSharedConsul(runDir);
    assert.throws(() => process.kill(a.pid, 0), /ESRCH/, 'the run end did not stop it');
    // Outside a run (no run dir) a caller gets an agent of its own.
    delete process.env.BERTH_TEST_RUN_DIR;
    other = await sharedConsul();
    assert.notEqual(other.pid, a.pid);
  });
});
