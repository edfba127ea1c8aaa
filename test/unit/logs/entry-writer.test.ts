/**
 * The hand-written msgpack writer on the shipping hot path must produce what
 * the general encoder would: a receiver decodes it with any msgpack library.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMulti, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { EntryWriter, forwardMessage } from '../../../sidecar/logs/entry-writer.js';
import { formatLine, SharedFields } from '../../../sidecar/logs/record.js';

const ext = new ExtensionCodec();
ext.register({
  type: 0,
  encode: () => null,
  decode: (d: Uint8Array) => {
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    return { sec: v.getUint32(0), nsec: v.getUint32(4) };
  },
});

function reference(sec: number, nsec: number, fields: Record<string, unknown>): Buffer {
  const head = Buffer.from([0x92, 0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
  head.writeUInt32BE(sec, 3);
  head.writeUInt32BE(nsec, 7);
  return Buffer.concat([head, Buffer.from(new Encoder().encode(fields))]);
}

const CASES: Array<Record<string, unknown>> = [
  { log: 'hello', source: 'stdout', container_id: 'a'.repeat(64) },
  { log: 'x'.repeat(31), k: 'y'.repeat(32) }, // fixstr boundary, str8
  { log: 'z'.repeat(300) }, // str16
  { log: 'w'.repeat(70_000) }, // str32
  { log: 'grüße, 日本語, emoji 🚢' },
  // Multi-byte text whose UTF-8 length needs a larger header than its character count suggests.
  { a: 'é'.repeat(20), b: 'é'.repeat(100), c: 'é'.repeat(200), d: '日'.repeat(30_000) },
  { log: `${'x'.repeat(31)}é`, k: `${'y'.repeat(254)}é` },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, `v${i}`])), // map16
  { n: 42, neg: -7, big: 2 ** 40, f: 1.5, t: true, f2: false, nil: null },
  { nested: { a: [1, 'two', { three: 3 }] }, partial: true },
];

test('EntryWriter writes byte-for-byte what @msgpack/msgpack writes', () => {
  const w = new EntryWriter(new Encoder());
  for (const fields of CASES) {
    w.reset();
    w.write({ tag: 't', sec: 1_790_000_000, nsec: 123_456_789, fields });
    assert.deepEqual(
      w.view(),
      reference(1_790_000_000, 123_456_789, fields),
      JSON.stringify(fields).slice(0, 80),
    );
  }
});

test('entries written back to back decode as [EventTime, record] pairs', () => {
  const w = new EntryWriter(new Encoder());
  w.reset();
  for (let i = 0; i < 3; i++)
    w.write({ tag: 't', sec: 100 + i, nsec: i, fields: { log: `line ${i}`, undef: undefined } });
  const out = [...decodeMulti(w.view(), { extensionCodec: ext })];
  assert.deepEqual(out, [
    [{ sec: 100, nsec: 0 }, { log: 'line 0' }],
    [{ sec: 101, nsec: 1 }, { log: 'line 1' }],
    [{ sec: 102, nsec: 2 }, { log: 'line 2' }],
  ]);
});

test("the common record's shared fields, copied from a cache, decode to the same record, record after record", () => {
  const container = {
    id: 'c'.repeat(64),
    name: 'web-1',
    image: 'registry.local/app:1.4',
    imageName: 'registry.local/app',
    imageTag: '1.4',
    labels: {},
    env: {},
  };
  const opts = { host: 'node1.example.com', labels: [], env: [], mergeJson: true, maxLineBytes: 16384 };
  const shared = new SharedFields(container, opts.host);
  const w = new EntryWriter(new Encoder());
  const lines = ['first', 'grüße 🚢', 'x'.repeat(300)];
  for (const [i, text] of lines.entries()) {
    const line = { time: `2026-11-27T18:50:0${i}.123456789Z`, stream: 'stderr' as const, text };
    const [plain] = formatLine(line, container, 't', opts);
    const [fast] = formatLine(line, container, 't', opts, '', shared);
    assert.ok(plain && fast && fast.shared === shared && plain.shared === undefined);
    w.reset();
    w.write(fast);
    const [decoded] = [...decodeMulti(w.view(), { extensionCodec: ext })] as [[unknown, unknown]];
    assert.deepEqual(decoded[1], plain.fields);
    assert.deepEqual(decoded[0], { sec: plain.sec, nsec: plain.nsec });
  }
  // Not spooled: the JSON of a record holds its fields once.
  const [rec] = formatLine(
    { time: '2026-11-27T18:50:00.000000000Z', stream: 'stdout', text: 'a' },
    container,
    't',
    opts,
    '',
    shared,
  );
  assert.equal(JSON.parse(JSON.stringify(rec)).shared, undefined);
});

test('forwardMessage writes [tag, entries, options] byte-for-byte as @msgpack/msgpack does', () => {
  const enc = new Encoder();
  const options = enc.encode({ size: 3, chunk: 'abc' }).slice();
  for (const tag of ['t', 'berth.web-1', 'x'.repeat(40), 'y'.repeat(300), 'tag-ü-日本']) {
    for (const n of [1, 255, 256, 65_535, 65_536, 200_000]) {
      const entries = Buffer.alloc(n, 7);
      const expected = Buffer.from(enc.encode([tag, entries, { size: 3, chunk: 'abc' }]));
      assert.ok(
        forwardMessage(tag, entries, options).equals(expected),
        `tag ${tag.length} chars, ${n} bytes`,
      );
    }
  }
});
