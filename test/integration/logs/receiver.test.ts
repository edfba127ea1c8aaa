import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import fluentLogger from 'fluent-logger';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';

// The test receiver is itself checked against two independent senders, so
// that the pipeline tests built on it prove something about Fluentd
// compatibility rather than about a receiver written to match our client.

const run = promisify(execFile);
// The package's typings declare EventTime as an instance; at run time it is the class.
const EventTimeCtor = (fluentLogger as unknown as { EventTime: new (sec: number, nsec: number) => unknown })
  .EventTime;

function emit(
  sender: fluentLogger.FluentSender<Record<string, unknown>>,
  label: string,
  data: Record<string, unknown>,
  time?: unknown,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error) => (err ? reject(err) : resolve());
    if (time === undefined) sender.emit(label, data, cb);
    // The typings omit EventTime as a timestamp although the sender accepts it.
    else sender.emit(label, data, time as fluentLogger.Timestamp, cb);
  });
}

describe('forward receiver vs python3-fluent-logger (Debian)', () => {
  let rx: ForwardReceiver;
  before(async () => {
    rx = await ForwardReceiver.start();
  });
  after(async () => {
    await rx?.stop();
  });

  test('Message mode with nanosecond EventTime and integer time', async () => {
    const script = `
import sys
from fluent import sender
s = sender.FluentSender('py', host='127.0.0.1', port=int(sys.argv[1]), nanosecond_precision=True)
assert s.emit_with_time('ns', 1700000000.123456, {'n': 1, 'msg': 'héllo'}), s.last_error
s.close()
s2 = sender.FluentSender('py', host='127.0.0.1', port=int(sys.argv[1]))
assert s2.emit_with_time('int', 1700000001, {'n': 2}), s2.last_error
s2.close()
`;
    await run('/usr/bin/python3', ['-c', script, String(rx.port)], { timeout: 15_000 });
    await rx.waitFor(2, 5000);
    const [a, b] = rx.records();
    assert.equal(a?.tag, 'py.ns');
    assert.equal(a?.eventTime, true);
    assert.equal(a?.sec, 1700000000);
    // python floats carry microseconds; the nanosecond field must hold them
    assert.ok(a && Math.abs(a.nsec - 123456000) < 1000, `nsec ${a?.nsec}`);
    assert.deepEqual(a?.record, { n: 1, msg: 'héllo' });
    assert.equal(a?.mode, 'Message');
    assert.equal(b?.tag, 'py.int');
    assert.equal(b?.eventTime, false);
    assert.equal(b?.sec, 1700000001);
  });
});

describe('forward receiver vs fluent-logger (npm)', () => {
  let rx: ForwardReceiver;
  before(async () => {
    rx = await ForwardReceiver.start();
  });
  after(async () => {
    await rx?.stop();
  });

  for (const eventMode of ['Message', 'PackedForward', 'CompressedPackedForward'] as const) {
    test(`${eventMode} with require_ack_response is acked`, async () => {
      const before = rx.count;
      const acks = rx.stats.acksSent;
      const sender = fluentLogger.createFluentSender<Record<string, unknown>>('npm', {
        host: '127.0.0.1',
        port: rx.port,
        eventMode,
        requireAckResponse: true,
        ackResponseTimeout: 5000,
        flushInterval: 10,
      });
      const t = new EventTimeCtor(1700000002, 987654321);
      await emit(sender, eventMode, { mode: eventMode, i: 1 }, t);
      await rx.waitFor(before + 1, 5000);
      const got = rx.records().slice(before);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.tag, `npm.${eventMode}`);
      assert.equal(got[0]?.mode, eventMode);
      assert.equal(got[0]?.sec, 1700000002);
      assert.equal(got[0]?.nsec, 987654321);
      assert.equal(got[0]?.eventTime, true);
      assert.deepEqual(got[0]?.record, { mode: eventMode, i: 1 });
      assert.ok(got[0]?.chunk, 'the chunk id is recorded');
      assert.equal(rx.stats.acksSent, acks + 1, 'the sender waited for and got an ack');
      // The typings require an event; without one `end` just closes the socket.
      (sender as unknown as { end(l: null, d: null, cb: () => void): void }).end(null, null, () => {});
    });
  }

  test('UDP heartbeat is answered with 0x00', async () => {
    const { createSocket } = await import('node:dgram');
    const udp = createSocket('udp4');
    try {
      const reply = new Promise<Buffer>((resolve) => udp.once('message', (m) => resolve(m)));
      udp.send(Buffer.from([0x00]), rx.port, '127.0.0.1');
      const got = await Promise.race([
        reply,
        new Promise<Buffer>((_, rej) => setTimeout(() => rej(new Error('no heartbeat reply')), 3000)),
      ]);
      assert.deepEqual([...got], [0]);
    } finally {
      udp.close();
    }
  });
});
