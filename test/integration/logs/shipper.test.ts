import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { LogRecord } from '../../../sidecar/logs/record.js';
import { ForwardClient, type ForwardClientOptions } from '../../../sidecar/logs/shipper.js';
import { freePort } from '../../harness/ports.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';

// The Forward client's output contract against the test receiver:
// ok when acked, retry when nobody acks, error when a batch cannot be encoded.

const run = promisify(execFile);

const BASE: Omit<ForwardClientOptions, 'servers'> = {
  requireAck: true,
  ackTimeoutMs: 500,
  connectTimeoutMs: 500,
  compress: false,
  backoffMinMs: 50,
  backoffMaxMs: 200,
};

const batch = (n: number, tag = 'berth.t'): LogRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    tag,
    sec: 1700000000 + i,
    nsec: 123456789,
    fields: { log: `m${i}` },
  }));

describe('ForwardClient', () => {
  let dir: string;
  let rx: ForwardReceiver;
  before(async () => {
    dir = await tempDir('logs-shipper');
    rx = await ForwardReceiver.start();
  });
  after(async () => {
    await rx?.stop();
    await removeDir(dir);
  });

  test('a batch is one PackedForward message per tag, acked, with EventTime nanoseconds', async () => {
    const c = new ForwardClient({ ...BASE, servers: [{ host: '127.0.0.1', port: rx.port }] });
    try {
      const before = rx.count;
      const msgs = rx.stats.messages;
      assert.equal(await c.flush([...batch(3, 'a'), ...batch(2, 'b')]), 'ok');
      const got = rx.records().slice(before);
      assert.equal(got.length, 5);
      assert.equal(rx.stats.messages - msgs, 2);
      assert.deepEqual(
        got.map((e) => [e.tag, e.record.log, e.nsec, e.mode]),
        [
          ['a', 'm0', 123456789, 'PackedForward'],
          ['a', 'm1', 123456789, 'PackedForward'],
          ['a', 'm2', 123456789, 'PackedForward'],
          ['b', 'm0', 123456789, 'PackedForward'],
          ['b', 'm1', 123456789, 'PackedForward'],
        ],
      );
    } finally {
      await c.close();
    }
  });

  test('compress sends CompressedPackedForward (gzip)', async () => {
    const c = new ForwardClient({ ...BASE, compress: true, servers: [{ host: '127.0.0.1', port: rx.port }] });
    try {
      const before = rx.count;
      assert.equal(await c.flush(batch(50)), 'ok');
      const got = rx.records().slice(before);
      assert.equal(got.length, 50);
      assert.ok(got.every((e) => e.mode === 'CompressedPackedForward'));
    } finally {
      await c.close();
    }
  });

  test('no ack within the timeout → retry; acks back → ok', async () => {
    const c = new ForwardClient({ ...BASE, servers: [{ host: '127.0.0.1', port: rx.port }] });
    try {
      rx.pauseAcks(true);
      assert.equal(await c.flush(batch(1)), 'retry');
      rx.pauseAcks(false);
      // The failed server is in backoff for a moment; retry until it is back.
      let r = await c.flush(batch(1));
      for (let i = 0; i < 20 && r !== 'ok'; i++) {
        await new Promise((res) => setTimeout(res, 50));
        r = await c.flush(batch(1));
      }
      assert.equal(r, 'ok');
    } finally {
      rx.pauseAcks(false);
      await c.close();
    }
  });

  test('a slow receiver slows the batch down but it is still acked', async () => {
    const c = new ForwardClient({ ...BASE, servers: [{ host: '127.0.0.1', port: rx.port }] });
    try {
      rx.slowReads(150);
      const t0 = Date.now();
      assert.equal(await c.flush(batch(2)), 'ok');
      assert.ok(Date.now() - t0 >= 140, 'the receiver read slowly');
    } finally {
      rx.slowReads(0);
      await c.close();
    }
  });

  test('no reachable server → retry, fast', async () => {
    const c = new ForwardClient({ ...BASE, servers: [{ host: '127.0.0.1', port: await freePort() }] });
    try {
      const t0 = Date.now();
      assert.equal(await c.flush(batch(1)), 'retry');
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      await c.close();
    }
  });

  test('a record that cannot be encoded → error (dropped, not retried forever)', async () => {
    const c = new ForwardClient({ ...BASE, servers: [{ host: '127.0.0.1', port: rx.port }] });
    try {
      const bad: LogRecord = { tag: 't', sec: 1, nsec: 0, fields: { n: 10n ** 30n } };
      assert.equal(await c.flush([bad]), 'error');
    } finally {
      await c.close();
    }
  });

  test('TLS: verified against the receiver certificate', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    const tlsRx = await ForwardReceiver.start({
      tls: { key: await readFile(key), cert: await readFile(cert) },
    });
    const c = new ForwardClient({
      ...BASE,
      servers: [{ host: '127.0.0.1', port: tlsRx.port }],
      tls: { ca: await readFile(cert), servername: 'localhost' },
    });
    const untrusted = new ForwardClient({
      ...BASE,
      servers: [{ host: '127.0.0.1', port: tlsRx.port }],
      tls: {},
    });
    try {
      assert.equal(await c.flush(batch(3)), 'ok');
      assert.equal(tlsRx.count, 3);
      assert.equal(await untrusted.flush(batch(1)), 'retry', 'an unverified certificate is refused');
      assert.equal(tlsRx.count, 3);
    } finally {
      await c.close();
      await untrusted.close();
      await tlsRx.stop();
    }
  });
});
