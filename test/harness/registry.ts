import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { startProcess } from './proc.js';
import { removeDir, tempDir } from './tmp.js';

const execFileAsync = promisify(execFile);

/** Where and how to reach a registry; a RegistryHandle is one. */
export interface RegistryEndpoint {
  /** http(s)://127.0.0.1:<port> */
  url: string;
  /** PEM of the CA that signed the registry's certificate (TLS registries). */
  caCertPath?: string;
  /** Credentials sent as HTTP basic auth on every request. */
  basicAuth?: { user: string; password: string };
}

export interface StartRegistryOptions {
  /** Serve HTTPS with a certificate for IP 127.0.0.1 signed by a CA made for this registry. */
  tls?: boolean;
  /** Require HTTP basic auth (htpasswd, bcrypt) with this user. */
  basicAuth?: { user: string; password: string };
}

export interface RegistryHandle extends RegistryEndpoint {
  /** 127.0.0.1:<port>, the form an image reference starts with. */
  host: string;
  port: number;
  /** The registry's storage root (filesystem driver). */
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request to a registry, with its CA and basic auth applied; `path` starts with /v2/. */
export function registryRequest(
  endpoint: RegistryEndpoint,
  method: string,
  path: string,
  opts: { body?: Buffer; headers?: Record<string, string>; auth?: boolean; timeoutMs?: number } = {},
): Promise<RegistryResponse> {
  const url = new URL(path, endpoint.url);
  const headers: Record<string, string> = { ...opts.headers };
  if (endpoint.basicAuth !== undefined && opts.auth !== false) {
    const { user, password } = endpoint.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  if (opts.body !== undefined) headers['content-length'] = String(opts.body.length);
  const https = url.protocol === 'https:';
  const ca = https && endpoint.caCertPath !== undefined ? readFileSync(endpoint.caCertPath) : undefined;
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      ...(ca !== undefined ? { ca } : {}),
      timeout: opts.timeoutMs ?? 10_000,
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.end(opts.body);
  });
}

/**
 * A CA and a server certificate (SAN IP:127.0.0.1 and DNS:localhost) signed by
 * it, made with openssl in `dir`; valid one day. EC P-256 keys: fast to make.
 */
export async function makeTestCertificates(
  dir: string,
): Promise<{ caCertPath: string; caKeyPath: string; certPath: string; keyPath: string }> {
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileAsync('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '1',
    '-subj',
    `/CN=berth test CA ${randomBytes(4).toString('hex')}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await execFileAsync('openssl', [
    'req',
    ...ec,
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(
    p('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  await execFileAsync('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    '1',
    '-extfile',
    p('server.ext'),
  ]);
  return {
    caCertPath: p('ca.crt'),
    caKeyPath: p('ca.key'),
    certPath: p('server.crt'),
    keyPath: p('server.key'),
  };
}

/** A client certificate (extendedKeyUsage clientAuth, 1 day) signed by a CA from makeTestCertificates, for mutual TLS. */
export async function makeClientCertificate(
  dir: string,
  ca: { caCertPath: string; caKeyPath: string },
  cn = 'berth test client',
): Promise<{ certPath: string; keyPath: string }> {
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileAsync('openssl', [
    'req',
    ...ec,
    '-keyout',
    p('client.key'),
    '-out',
    p('client.csr'),
    '-subj',
    `/CN=${cn}`,
  ]);
  await writeFile(p('client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  await execFileAsync('openssl', [
    'x509',
    '-req',
    '-in',
    p('client.csr'),
    '-CA',
    ca.caCertPath,
    '-CAkey',
    ca.caKeyPath,
    '-CAcreateserial',
    '-out',
    p('client.crt'),
    '-days',
    '1',
    '-extfile',
    p('client.ext'),
  ]);
  return { certPath: p('client.crt'), keyPath: p('client.key') };
}

/**
 * Debian's docker-registry (distribution 2.8) with filesystem storage in a
 * temp dir; optionally TLS and htpasswd basic auth. Ready when GET /v2/
 * answers 200 (open) or 401 (auth required).
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryHandle> {
  const dir = await tempDir('registry');
  try {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const dataDir = join(dir, 'data');
    const http: Record<string, unknown> = { addr: host, secret: randomBytes(16).toString('hex') };
    let caCertPath: string | undefined;
    if (opts.tls === true) {
      const certs = await makeTestCertificates(dir);
      caCertPath = certs.caCertPath;
      http.tls = { certificate: certs.certPath, key: certs.keyPath };
    }
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: dataDir },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http,
    };
    if (opts.basicAuth !== undefined) {
      // distribution accepts only bcrypt htpasswd lines; cost 5 keeps logins fast in tests.
      const hash = bcrypt.hashSync(opts.basicAuth.password, 5);
      await writeFile(join(dir, 'htpasswd'), `${opts.basicAuth.user}:${hash}\n`, { mode: 0o600 });
      config.auth = { htpasswd: { realm: 'berth-test', path: join(dir, 'htpasswd') } };
    }
    const configPath = join(dir, 'config.yml');
    await writeFile(configPath, stringify(config));
    const url = `${opts.tls === true ? 'https' : 'http'}://${host}`;
    const endpoint: RegistryEndpoint = {
      url,
      ...(caCertPath !== undefined ? { caCertPath } : {}),
      ...(opts.basicAuth !== undefined ? { basicAuth: opts.basicAuth } : {}),
    };
    const proc = await startProcess({
      name: 'docker-registry',
      cmd: 'docker-registry',
      args: ['serve', configPath],
      cwd: dir,
      readyTimeoutMs: 15_000,
      ready: async () => {
        const res = await registryRequest(endpoint, 'GET', '/v2/', { auth: false, timeoutMs: 1000 });
        return res.status === 200 || res.status === 401;
      },
    });
    return {
      ...endpoint,
      host,
      port,
      dataDir,
      output: () => proc.output(),
      async stop() {
        await proc.stop('SIGTERM', 5000);
        await removeDir(dir);
      },
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
