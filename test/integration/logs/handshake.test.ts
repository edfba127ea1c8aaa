/**
 * Issue 12 item 15: shipping to a secured Fluentd. The Forward handshake
 * (HELO, PING with the shared-key digest, optional username/password, PONG)
 * and TLS (CA, client certificate, server name), against an independent
 * server: the Fluent org's own FluentServer (npm @fluent-org/logger), not the
 * repo's receiver. A refused handshake is logged naming the receiver and the
 * reason, counted per receiver, and the batch answered 'retry' (so its
 * records wait in the spool; the pipeline test below shows they arrive once
 * the key is right).
 */
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FluentServer, type FluentServerOptions } from '@fluent-org/logger';
import type { Logger } from '../../../runtime/base/log.js';
import { createLogShipping, parseLogShippingConfig } from '../../../sidecar/logs/index.js';
import { logPipelineFamilies } from '../../../sidecar/logs/metrics.js';
import type { LogRecord } from '../../../sidecar/logs/record.js';
import { ForwardClient, type ForwardClientOptions } from '../../../sidecar/logs/shipper.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { makeClientCertificate, makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const BASE: Omit<ForwardClientOptions, 'servers'> = {
  requireAck: true,
  ackTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  compress: false,
  backoffMinMs: 10,
  backoffMaxMs: 20,
};

const batch = (n: number, from = 0): LogRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    tag: 'berth.secure',
    sec: 1700000000 + i,
    nsec: 5,
    fields: { log: `m${from + i}` },
  }));

/** A Logger that keeps what was logged (the agent's log, as a user reads it). */
function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const rec =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push(`${level} ${typeof obj === 'string' ? obj : `${msg ?? ''} ${flat(obj)}`}`);
    };
  const logger = {
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    debug: rec('debug'),
    trace: rec('trace'),
    fatal: rec('fatal'),
    child: () => logger,
  } as unknown as Logger;
  return { logger, lines };
}

/** A log object as text: errors by their message (a socket error holds circular references). */
function flat(obj: unknown): string {
  if (obj === null || typeof obj !== 'object') return String(obj);
  return Object.entries(obj)
    .map(([k, v]) => `${k}=${v instanceof Error ? v.message : typeof v === 'object' ? flat(v) : String(v)}`)
    .join(' ');
}

interface Server {
  port: number;
  entries: { tag: string; record: Record<string, unknown> }[];
  stop(): Promise<void>;
}

async function startServer(opts: FluentServerOptions): Promise<Server> {
  const s = new FluentServer({ listenOptions: { host: '127.0.0.1', port: 0 }, ...opts });
  const entries: Server['entries'] = [];
  s.on('entry', (tag: string, _time: unknown, record: Record<string, unknown>) =>
    entries.push({ tag, record }),
  );
  await s.listen();
  const port = s.port;
  assert.ok(port);
  return { port, entries, stop: () => s.close() };
}

const SECURITY = {
  serverHostname: 'fluentd.test',
  sharedKey: 'the-shared-key',
  authorize: true,
  userDict: { berth: 's3cret pass' },
};

describe('Forward handshake against FluentServer (@fluent-org/logger)', () => {
  let dir = '';
  let certs: Awaited<ReturnType<typeof makeTestCertificates>>;
  let client: { cert: string; key: string };
  const servers: Server[] = [];
  const clients: ForwardClient[] = [];

  before(async () => {
    dir = await tempDir('logs-handshake');
    certs = await makeTestCertificates(dir);
    // A client certificate from the same CA, for mutual TLS.
    const c = await makeClientCertificate(dir, certs, 'berth');
    client = { cert: c.certPath, key: c.keyPath };
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const s of servers) await s.stop();
    await removeDir(dir);
  });

  async function server(opts: FluentServerOptions): Promise<Server> {
    const s = await startServer(opts);
    servers.push(s);
    return s;
  }
  function forward(
    opts: Partial<ForwardClientOptions> & Pick<ForwardClientOptions, 'servers'>,
  ): ForwardClient {
    const c = new ForwardClient({ ...BASE, ...opts });
    clients.push(c);
    return c;
  }
  const auth = (over: Partial<NonNullable<ForwardClientOptions['auth']>> = {}) => ({
    sharedKey: SECURITY.sharedKey,
    selfHostname: 'berth-node',
    username: 'berth',
    password: SECURITY.userDict.berth,
    ...over,
  });

  test('shared key + username/password over TLS (CA, client certificate, server name): delivered and acked', async () => {
    const s = await server({
      security: SECURITY,
      tlsOptions: {
        key: await readFile(certs.keyPath),
        cert: await readFile(certs.certPath),
        ca: await readFile(certs.caCertPath),
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    const { logger, lines } = captureLogger();
    const c = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      tls: {
        ca: await readFile(certs.caCertPath),
        cert: await readFile(client.cert),
        key: await readFile(client.key),
        servername: 'localhost',
      },
      auth: auth(),
      logger,
    });
    assert.equal(await c.flush(batch(3)), 'ok', lines.join('\n'));
    assert.deepEqual(
      s.entries.map((e) => [e.tag, e.record.log]),
      [
        ['berth.secure', 'm0'],
        ['berth.secure', 'm1'],
        ['berth.secure', 'm2'],
      ],
    );
    assert.deepEqual(c.handshakeFailures(), { [`127.0.0.1:${s.port}`]: 0 });
    assert.ok(!lines.join('\n').includes(SECURITY.userDict.berth), 'the password is never logged');
  });

  test('a receiver that demands the handshake, and none is configured: retry, a clear log line, counted', async () => {
    const s = await server({ security: SECURITY });
    const { logger, lines } = captureLogger();
    const c = forward({ servers: [{ host: '127.0.0.1', port: s.port }], logger });
    assert.equal(await c.flush(batch(2)), 'retry');
    assert.equal(s.entries.length, 0);
    const log = lines.join('\n');
    assert.match(log, new RegExp(`127\\.0\\.0\\.1:${s.port}`), log);
    assert.match(log, /demands the Forward handshake.*logs\.sharedKey is not set/, log);
    assert.ok((c.handshakeFailures()[`127.0.0.1:${s.port}`] ?? 0) >= 1);
  });

  test('a wrong shared key: retry, the receiver and the reason in the log, counted; never the key', async () => {
    const s = await server({ security: SECURITY });
    const { logger, lines } = captureLogger();
    const c = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      auth: auth({ sharedKey: 'not-the-key' }),
      logger,
    });
    assert.equal(await c.flush(batch(2)), 'retry');
    assert.equal(s.entries.length, 0);
    const log = lines.join('\n');
    assert.match(log, new RegExp(`log receiver 127\\.0\\.0\\.1:${s.port}: Forward handshake failed`), log);
    assert.match(log, /shared key mismatch/, log);
    assert.ok(!log.includes('not-the-key') && !log.includes(SECURITY.sharedKey), 'no key in the log');
    assert.equal(c.handshakeFailures()[`127.0.0.1:${s.port}`], 1);
  });

  test('a wrong password, or none where the receiver wants one: the reason in the log', async () => {
    const s = await server({ security: SECURITY });
    const wrong = captureLogger();
    const c = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      auth: auth({ password: 'guess' }),
      logger: wrong.logger,
    });
    assert.equal(await c.flush(batch(1)), 'retry');
    assert.match(wrong.lines.join('\n'), /refused the handshake: username\/password mismatch/);
    const none = captureLogger();
    const c2 = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      auth: auth({ username: undefined, password: undefined }),
      logger: none.logger,
    });
    assert.equal(await c2.flush(batch(1)), 'retry');
    assert.match(none.lines.join('\n'), /demands a username and password/);
    assert.equal(s.entries.length, 0);
  });

  test('a shared key set, the receiver without one: named as such after the connect timeout', async () => {
    const s = await server({});
    const { logger, lines } = captureLogger();
    const c = forward({ servers: [{ host: '127.0.0.1', port: s.port }], auth: auth(), logger });
    assert.equal(await c.flush(batch(1)), 'retry');
    assert.match(lines.join('\n'), /no HELO from the receiver within 1000ms/);
  });

  test('TLS: a wrong server name or no client certificate is refused and logged with the receiver', async () => {
    const s = await server({
      security: SECURITY,
      tlsOptions: {
        key: await readFile(certs.keyPath),
        cert: await readFile(certs.certPath),
        ca: await readFile(certs.caCertPath),
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    const name = captureLogger();
    const c = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      tls: {
        ca: await readFile(certs.caCertPath),
        cert: await readFile(client.cert),
        key: await readFile(client.key),
        servername: 'fluentd.example',
      },
      auth: auth(),
      logger: name.logger,
    });
    assert.equal(await c.flush(batch(1)), 'retry');
    assert.match(
      name.lines.join('\n'),
      new RegExp(
        `127\\.0\\.0\\.1:${s.port}.*fluentd\\.example|fluentd\\.example.*127\\.0\\.0\\.1:${s.port}`,
        's',
      ),
    );
    const noCert = captureLogger();
    const c2 = forward({
      servers: [{ host: '127.0.0.1', port: s.port }],
      tls: { ca: await readFile(certs.caCertPath), servername: 'localhost' },
      auth: auth(),
      logger: noCert.logger,
    });
    assert.equal(await c2.flush(batch(1)), 'retry');
    assert.match(noCert.lines.join('\n'), new RegExp(`127\\.0\\.0\\.1:${s.port}`));
    assert.equal(s.entries.length, 0);
  });
});

describe('log shipping with a wrong shared key: records wait in the spool, and arrive once the key is right', () => {
  let dir = '';
  let s: Server | undefined;
  after(async () => {
    await s?.stop();
    await removeDir(dir);
  });

  test('1000 lines from a container log file: none delivered with the wrong key, all after a restart with the right one', async () => {
    dir = await tempDir('logs-handshake-spool');
    s = await startServer({ security: { ...SECURITY, authorize: false, userDict: {} } });
    const logPath = join(dir, 'ctr.log');
    const lines: string[] = [];
    for (let i = 1; i <= 1000; i++) {
      lines.push(`2026-12-07T10:00:00.${String(i).padStart(9, '0')}Z stdout F line ${i}`);
    }
    await appendFile(logPath, `${lines.join('\n')}\n`);
    const source = new FakeContainerSource([
      fakeDescriptor({
        id: 'c'.repeat(64),
        name: 'secure-1',
        image: 'busybox:1.36',
        imageTag: '1.36',
        logPath,
      }),
    ]);
    const keyFile = join(dir, 'key');
    const start = async (key: string) => {
      await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
      const cap = captureLogger();
      const config = parseLogShippingConfig([
        {
          servers: [`127.0.0.1:${s?.port}`],
          shared_key_file: keyFile,
          self_hostname: 'berth-node',
          backoff_min: '20ms',
          backoff_max: '100ms',
          retry_min: '20ms',
          retry_max: '100ms',
          connect_timeout: '1s',
          poll_interval: '20ms',
        },
      ]);
      const shipping = await createLogShipping({ config, source, stateDir: dir, logger: cap.logger });
      await shipping.start();
      return { shipping, log: cap.lines };
    };

    const wrong = await start('not-the-key');
    try {
      await waitUntil(
        () => {
          const m = wrong.shipping.pipeline.metrics();
          return m.backlog === 1000 && m.spooledBytes > 0 && m.batchesRetried >= 3;
        },
        10_000,
        'records spooled',
        () => JSON.stringify({ ...wrong.shipping.pipeline.metrics(), log: wrong.log.slice(0, 5) }),
      );
      const m = wrong.shipping.pipeline.metrics();
      assert.equal(m.recordsShipped, 0);
      assert.equal(s.entries.length, 0);
      const family = logPipelineFamilies(m).find((f) => f.name === 'berth_logs_handshake_failures_total');
      assert.ok((family?.samples[0]?.value ?? 0) >= 1, JSON.stringify(family));
      assert.deepEqual(family?.samples[0]?.labels, { server: `127.0.0.1:${s.port}` });
      assert.match(wrong.log.join('\n'), /shared key mismatch/);
    } finally {
      await wrong.shipping.stop();
    }

    const right = await start(SECURITY.sharedKey);
    try {
      await waitUntil(() => new Set(s?.entries.map((e) => e.record.log)).size >= 1000, 15_000, 'all records');
      const got = new Set(s.entries.map((e) => e.record.log));
      for (let i = 1; i <= 1000; i++) assert.ok(got.has(`line ${i}`), `line ${i} arrived`);
    } finally {
      await right.shipping.stop();
    }
  });
});

async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  what: string,
  state: () => string = () => '',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${state()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
