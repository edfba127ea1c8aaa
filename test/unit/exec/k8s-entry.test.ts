import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseK8sEntry, parseK8sRecord } from '../../../runtime/exec/k8s-format.js';

// The one k8s-file (CRI) line parser: the runtime's log reader and the log shipper's tailer both use it.
describe('parseK8sEntry', () => {
  test("reads conmon's own time straight from the bytes, with seconds, nanoseconds and the text's byte length", () => {
    const line = Buffer.from('2026-11-27T18:50:13.183691507+00:00 stdout F héllo');
    assert.deepEqual(parseK8sEntry(line), {
      time: '2026-11-27T18:50:13.183691507Z',
      sec: Date.UTC(2026, 10, 27, 18, 50, 13) / 1000,
      nsec: 183_691_507,
      stream: 'stdout',
      partial: false,
      text: 'héllo',
      bytes: 6,
    });
    const z = parseK8sEntry(Buffer.from('2026-11-27T18:50:14.000000001Z stderr P:x part'));
    assert.equal(z?.sec, Date.UTC(2026, 10, 27, 18, 50, 14) / 1000);
    assert.equal(z?.nsec, 1);
    assert.equal(z?.partial, true);
    assert.equal(z?.stream, 'stderr');
    assert.equal(z?.text, 'part');
  });

  test('other RFC 3339 times are normalised to UTC, without seconds read from the bytes', () => {
    const e = parseK8sEntry(Buffer.from('2026-11-27T20:50:15.5+02:00 stdout F x'));
    assert.equal(e?.time, '2026-11-27T18:50:15.500000000Z');
    assert.equal(e?.sec, undefined);
    assert.equal(e?.nsec, undefined);
  });

  test('parses a window of a larger buffer (the tailer parses in place, line by line)', () => {
    const buf = Buffer.from(
      '2026-11-27T18:50:13.000000001Z stdout F one\n2026-11-27T18:50:13.000000002Z stdout F two\n',
    );
    const nl = buf.indexOf(0x0a);
    assert.equal(parseK8sEntry(buf, 0, nl)?.text, 'one');
    assert.equal(parseK8sEntry(buf, nl + 1, buf.length - 1)?.text, 'two');
    assert.equal(parseK8sEntry(buf, nl + 1, buf.length - 1)?.nsec, 2);
    // An empty full line may come without the space after the tag.
    const empty = Buffer.from('2026-11-27T18:50:13.000000001Z stdout F');
    assert.equal(parseK8sEntry(empty)?.text, '');
    assert.equal(parseK8sEntry(empty)?.bytes, 0);
  });

  test('the text form and the buffer form agree, malformed lines included', () => {
    for (const line of [
      '2026-11-27T18:50:13.183691507+00:00 stdout F hello world',
      '2026-11-27T18:50:13.1+00:00 stderr P  two  spaces ',
      '2026-11-27T18:50:13Z stdout F:x tagged',
      '2026-11-27t18:50:13z stdout F lower-case t and z',
      '2026-11-27T18:50:13Z stdout FP x',
      '2026-11-27T18:50:13Z stdin F x',
      'notatime stdout F x',
      '',
    ]) {
      const e = parseK8sEntry(Buffer.from(line));
      const r = parseK8sRecord(line);
      assert.deepEqual(r, e && { time: e.time, stream: e.stream, partial: e.partial, text: e.text }, line);
    }
    assert.equal(parseK8sRecord('2026-11-27T18:50:13Z stdout FP x'), undefined);
    assert.equal(parseK8sRecord('2026-11-27t18:50:13z stdout F y')?.time, '2026-11-27T18:50:13.000000000Z');
  });
});
