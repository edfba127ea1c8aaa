import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import { type BuiltImage, buildBusyboxImageDetailed, readTarFiles } from '../../harness/images.js';
import { freePort } from '../../harness/ports.js';
import { type ManagedProcess, startProcess } from '../../harness/proc.js';
import { type RegistryEndpoint, registryRequest } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const run = promisify(execFile);
const SERVICE = 'berth-test-registry';
const ISSUER = 'berth-test-issuer';
const USER = { name: 'puller', password: `pw-${randomBytes(4).toString('hex')}` };

let dir: string;
let registry: ManagedProcess | undefined;
let tokenServer: Server | undefined;
let host: string;
let image: BuiltImage;
let signingKey: Buffer;
let certDer: Buffer;
const tokenRequests: Array<{ scope: string | null; service: string | null; user: string | null }> = [];

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A distribution-style JWT (ES256, x5c chain) granting `actions` on `repo`. */
function mint(repo: string, actions: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const claims = {
    iss: ISSUER,
    sub: USER.name,
    aud: SERVICE,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString('hex'),
    access: actions.length ? [{ type: 'repository', name: repo, actions }] : [],
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

async function push(endpoint: RegistryEndpoint, repo: string, tag: string): Promise<void> {
  const auth = { authorization: `Bearer ${mint(repo, ['pull', 'push'])}` };
  const files = await readTarFiles(image.path);
  const index = JSON.parse((files.get('index.json') as Buffer).toString()) as {
    manifests: { digest: string }[];
  };
  const blob = (d: string): Buffer => files.get(`blobs/sha256/${d.slice(7)}`) as Buffer;
  const manifest = blob(index.manifests[0]?.digest as string);
  const m = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const start = await registryRequest(endpoint, 'POST', `/v2/${repo}/blobs/uploads/`, { headers: auth });
    assert.equal(start.status, 202, start.body.toString());
    const url = new URL(start.headers.location as string, endpoint.url);
    url.searchParams.set('digest', d);
    const put = await registryRequest(endpoint, 'PUT', `${url.pathname}${url.search}`, {
      body: blob(d),
      headers: { ...auth, 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 201, put.body.toString());
  }
  const res = await registryRequest(endpoint, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    body: manifest,
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(res.status, 201, res.body.toString());
}

before(async () => {
  dir = await tempDir('image-token');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'token.key'),
    '-out',
    join(dir, 'token.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=berth token issuer',
  ]);
  signingKey = await readFile(join(dir, 'token.key'));
  const pem = await readFile(join(dir, 'token.crt'), 'utf8');
  certDer = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');

  // The token service: anonymous callers may pull berth-test/public, `puller` may pull everything.
  tokenServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scope = url.searchParams.get('scope');
    const authz = req.headers.authorization;
    const user = authz?.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString() : null;
    tokenRequests.push({ scope, service: url.searchParams.get('service'), user });
    if (user !== null && user !== `${USER.name}:${USER.password}`) {
      res.writeHead(401).end('bad credentials');
      return;
    }
    const [, repo = '', actions = ''] = (scope ?? '').split(':');
    const granted =
      user !== null || repo === 'berth-test/public' ? actions.split(',').filter((a) => a === 'pull') : [];
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: mint(repo, granted) }));
  });
  await new Promise<void>((resolve) => tokenServer?.listen(0, '127.0.0.1', resolve));
  const tokenPort = (tokenServer.address() as AddressInfo).port;

  const port = await freePort();
  host = `127.0.0.1:${port}`;
  await writeFile(
    join(dir, 'config.yml'),
    stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') } },
      http: { addr: host, secret: randomBytes(16).toString('hex') },
      auth: {
        token: {
          realm: `http://127.0.0.1:${tokenPort}/token`,
          service: SERVICE,
          issuer: ISSUER,
          rootcertbundle: join(dir, 'token.crt'),
        },
      },
    }),
  );
  registry = await startProcess({
    name: 'docker-registry',
    cmd: 'docker-registry',
    args: ['serve', join(dir, 'config.yml')],
    cwd: dir,
    ready: async () =>
      (await registryRequest({ url: `http://${host}` }, 'GET', '/v2/', { timeoutMs: 1000 })).status === 401,
  });
  image = await buildBusyboxImageDetailed({ format: 'oci', ref: 'berth-test/public:1', outDir: dir });
  const endpoint = { url: `http://${host}` };
  await push(endpoint, 'berth-test/public', '1');
  await push(endpoint, 'berth-test/private', '1');
});

after(async () => {
  await registry?.stop();
  await new Promise<void>((resolve) => (tokenServer ? tokenServer.close(() => resolve()) : resolve()));
  if (dir) await removeDir(dir);
});

describe('Bearer token auth against docker-registry', () => {
  test('anonymous token for a public repository', async () => {
    const store = new ImageStore({
      root: join(dir, 'anon'),
      logger: silentLogger(),
      insecureRegistries: [host],
    });
    const sum = await store.pull(`${host}/berth-test/public:1`, {});
    assert.equal(sum.id, image.configDigest);
    const asked = tokenRequests.filter((r) => r.scope === 'repository:berth-test/public:pull');
    assert.ok(asked.length >= 1);
    assert.equal(asked[0]?.service, SERVICE);
    assert.equal(asked[0]?.user, null);
  });

  test('a private repository needs credentials; the token service gets them as basic auth', async () => {
    const store = new ImageStore({
      root: join(dir, 'priv'),
      logger: silentLogger(),
      insecureRegistries: [host],
    });
    await assert.rejects(store.pull(`${host}/berth-test/private:1`, {}), { code: 'FailedPrecondition' });
    await assert.rejects(
      store.pull(`${host}/berth-test/private:1`, { username: USER.name, password: 'nope' }),
      {
        code: 'FailedPrecondition',
        message: /token service .* refused \(401\)/,
      },
    );
    const sum = await store.pull(`${host}/berth-test/private:1`, {
      username: USER.name,
      password: USER.password,
    });
    assert.equal(sum.id, image.configDigest);
    assert.ok(tokenRequests.some((r) => r.user === `${USER.name}:${USER.password}`));
  });
});
