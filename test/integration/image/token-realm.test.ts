import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { freePort } from '../../harness/ports.js';
import { type ManagedProcess, startProcess } from '../../harness/proc.js';
import { makeTestCertificates, registryRequest } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

// Issue 12 item 16: registry credentials never go to a token realm on another host or over plain http.

const USER = { name: 'puller', password: `pw-${randomBytes(4).toString('hex')}` };

let dir: string;
const registries: ManagedProcess[] = [];
const tokenServers: Server[] = [];
/** Every request a token service got, with the credentials it carried (if any). */
const seen: Array<{ realm: string; user: string | null }> = [];

/** A token service on `ip` that records what it is sent and hands out a token nobody accepts. */
async function tokenService(ip: string): Promise<string> {
  const server = createServer((req, res) => {
    const authz = req.headers.authorization;
    seen.push({
      realm: `${ip}${req.url}`,
      user: authz?.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString() : null,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'not-a-jwt' }));
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  tokenServers.push(server);
  return `http://${ip}:${(server.address() as AddressInfo).port}/token`;
}

/** docker-registry with token auth pointing at `realm`; TLS when `tls` holds a cert and key. */
async function registry(name: string, realm: string, tls?: { cert: string; key: string }): Promise<string> {
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, `${name}.yml`);
  await writeFile(
    config,
    stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, name) } },
      http: {
        addr: host,
        secret: randomBytes(16).toString('hex'),
        ...(tls ? { tls: { certificate: tls.cert, key: tls.key } } : {}),
      },
      auth: {
        token: { realm, service: 'berth-test', issuer: 'berth-test', rootcertbundle: join(dir, 'ca.crt') },
      },
    }),
  );
  const url = `${tls ? 'https' : 'http'}://${host}`;
  registries.push(
    await startProcess({
      name: `docker-registry-${name}`,
      cmd: 'docker-registry',
      args: ['serve', config],
      cwd: dir,
      ready: async () => {
        const ca = tls ? { caCertPath: join(dir, 'ca.crt') } : {};
        return (await registryRequest({ url, ...ca }, 'GET', '/v2/', { timeoutMs: 1000 })).status === 401;
      },
    }),
  );
  return host;
}

let foreignRealmHost: string;
let httpRealmHost: string;
let caFile: string;

before(async () => {
  dir = await tempDir('image-realm');
  const certs = await makeTestCertificates(dir);
  caFile = certs.caCertPath;
  // Another host: the realm is on 127.0.0.2, the registry on 127.0.0.1 (both loopback).
  foreignRealmHost = await registry('foreign', await tokenService('127.0.0.2'));
  // Plain http: a TLS registry whose realm is http on its own host.
  httpRealmHost = await registry('plain', await tokenService('127.0.0.1'), {
    cert: certs.certPath,
    key: certs.keyPath,
  });
});

after(async () => {
  for (const r of registries) await r.stop();
  for (const s of tokenServers) await new Promise<void>((resolve) => s.close(() => resolve()));
  if (dir) await removeDir(dir);
});

describe('token realms and credentials', () => {
  test('credentials are not sent to a token realm on another host', async () => {
    const store = new ImageStore({
      root: join(dir, 'store-foreign'),
      logger: silentLogger(),
      insecureRegistries: [foreignRealmHost],
    });
    seen.length = 0;
    await assert.rejects(
      store.pull(`${foreignRealmHost}/app:1`, { username: USER.name, password: USER.password }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'FailedPrecondition');
        assert.match(err.message, /token realm http:\/\/127\.0\.0\.2:\d+\/token is on another host/);
        return true;
      },
    );
    assert.deepEqual(
      seen.filter((s) => s.user !== null),
      [],
      'the foreign token service got no credentials',
    );
  });

  test('credentials are not sent to a token realm over plain http', async () => {
    const store = new ImageStore({ root: join(dir, 'store-plain'), logger: silentLogger() });
    seen.length = 0;
    await assert.rejects(
      store.pull(`${httpRealmHost}/app:1`, { username: USER.name, password: USER.password, caFile }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'FailedPrecondition');
        assert.match(err.message, /token realm http:\/\/127\.0\.0\.1:\d+\/token is plain http/);
        return true;
      },
    );
    assert.deepEqual(
      seen.filter((s) => s.user !== null),
      [],
      'the plain-http token service got no credentials',
    );
  });
});
