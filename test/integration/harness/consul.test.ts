import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Consul from 'consul';
import { type ConsulHandle, startConsul } from '../../harness/consul.js';
import { pollUntil } from '../../harness/proc.js';

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
