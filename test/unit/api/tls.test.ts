import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';
import { ApiClient, clientOptionsFromEnv } from '../../../src/cli/client.js';
import { makeClientCertificate, makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

// Issue 12 item 5: the TCP API speaks TLS (optionally mutual); clear text only on loopback or when forced.

const TOKEN = 'tls-test-token';

function server(): ApiServer {
  return new ApiServer(
    { runtime: {} as Runtime, events: new EventExchange<RuntimeEvent>() },
    silentLogger(),
    () => ({ endpoints: {} }),
  );
}

describe('API over TLS', () => {
  let dir: string;
  let certs: Awaited<ReturnType<typeof makeTestCertificates>>;
  let client: { certPath: string; keyPath: string };
  const servers: ApiServer[] = [];

  before(async () => {
    dir = await tempDir('api-tls');
    certs = await makeTestCertificates(dir);
    client = await makeClientCertificate(dir, certs);
  });
  after(async () => {
    for (const s of servers) await s.close();
    await removeDir(dir);
  });

  async function listen(name: string, tcp: Record<string, unknown>): Promise<{ s: ApiServer; port: number }> {
    const s = server();
    servers.push(s);
    await s.listen({
      socketPath: join(dir, `${name}.sock`),
      tcp: { host: '127.0.0.1', port: 0, token: TOKEN, ...tcp } as never,
    });
    return { s, port: s.tcpAddress?.port ?? 0 };
  }

  it('refuses a non-loopback TCP listener without TLS unless forced', async () => {
    const s = server();
    servers.push(s);
    await assert.rejects(
      s.listen({ socketPath: join(dir, 'open.sock'), tcp: { host: '0.0.0.0', port: 0, token: TOKEN } }),
      (err: Error & { code?: string; field?: string }) => {
        assert.match(
          err.message,
          /apiTcp: 0\.0\.0\.0 is not loopback: without TLS .*apiTlsCert.*apiTcpInsecure/,
        );
        assert.equal(err.code, 'InvalidArgument');
        return true;
      },
    );
    const forced = server();
    servers.push(forced);
    await forced.listen({
      socketPath: join(dir, 'forced.sock'),
      tcp: { host: '0.0.0.0', port: 0, token: TOKEN, insecure: true },
    });
    assert.ok((forced.tcpAddress?.port ?? 0) > 0);
  });

  it('serves the API over TLS: the CLI client with the CA file gets answers, clear text gets none', async () => {
    const { port } = await listen('tls', { tls: { certFile: certs.certPath, keyFile: certs.keyPath } });
    const env = {
      BERTH_HOST: `tcp://127.0.0.1:${port}`,
      BERTH_TOKEN: TOKEN,
      BERTH_TLS_CA: certs.caCertPath,
    };
    const api = new ApiClient(clientOptionsFromEnv(env));
    const v = await api.json<{ api: string }>('GET', '/v1/version');
    assert.equal(v.api, 'v1');
    // The same port in clear text: no HTTP answer, so the token never travels in clear.
    const plain = await new Promise<string>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/version', headers: { authorization: `Bearer ${TOKEN}` } },
        (res) => resolve(`status ${res.statusCode}`),
      );
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    assert.match(plain, /^error|status 400/);
    // Without the CA the agent's certificate is not trusted.
    const untrusted = new ApiClient(clientOptionsFromEnv({ ...env, BERTH_TLS_CA: '', BERTH_TLS: '1' }));
    await assert.rejects(untrusted.json('GET', '/v1/version'), /certificate/);
    // The token is still required over TLS.
    const noToken = new ApiClient(clientOptionsFromEnv({ ...env, BERTH_TOKEN: '' }));
    await assert.rejects(noToken.json('GET', '/v1/version'), /bearer token/);
  });

  it('mutual TLS: with apiTlsClientCa a client needs a certificate signed by it', async () => {
    const { port } = await listen('mtls', {
      tls: { certFile: certs.certPath, keyFile: certs.keyPath, clientCaFile: certs.caCertPath },
    });
    const env = { BERTH_HOST: `tcp://127.0.0.1:${port}`, BERTH_TOKEN: TOKEN, BERTH_TLS_CA: certs.caCertPath };
    await assert.rejects(new ApiClient(clientOptionsFromEnv(env)).json('GET', '/v1/version'));
    const withCert = new ApiClient(
      clientOptionsFromEnv({ ...env, BERTH_TLS_CERT: client.certPath, BERTH_TLS_KEY: client.keyPath }),
    );
    assert.equal((await withCert.json<{ api: string }>('GET', '/v1/version')).api, 'v1');
    // The events WebSocket goes over wss with the same files.
    const ws = await withCert.websocket('/v1/ws/events');
    ws.close();
  });

  it('a bad certificate file is refused naming the option', async () => {
    const s = server();
    servers.push(s);
    await assert.rejects(
      s.listen({
        socketPath: join(dir, 'bad.sock'),
        tcp: {
          host: '127.0.0.1',
          port: 0,
          token: TOKEN,
          tls: { certFile: join(dir, 'nope.crt'), keyFile: certs.keyPath },
        },
      } as never),
      /apiTlsCert: cannot read .*nope\.crt/,
    );
  });
});
