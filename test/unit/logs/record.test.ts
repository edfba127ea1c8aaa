import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { normalizeTime, parseTime } from '../../../runtime/base/rfc3339.js';
import {
  type ContainerMeta,
  compileTag,
  type FormatOptions,
  formatLine,
  splitUtf8,
} from '../../../sidecar/logs/record.js';

const ID = 'a1b2c3d4e5f6'.padEnd(64, '0');
const container: ContainerMeta = {
  id: ID,
  name: 'web-1',
  image: 'registry:5000/shop/web:1.4',
  imageName: 'registry:5000/shop/web',
  imageTag: '1.4',
  labels: { team: 'shop', secret: 'nope' },
  env: { DEPLOY: 'blue', PASSWORD: 'hunter2' },
};
const opts: FormatOptions = {
  host: 'node1.example.com',
  labels: ['team'],
  env: ['DEPLOY'],
  mergeJson: true,
  maxLineBytes: 16 * 1024,
};

describe('time', () => {
  test('offsets become UTC and nanoseconds are kept', () => {
    assert.equal(normalizeTime('2026-11-27T18:50:13.183691507+01:30'), '2026-11-27T17:20:13.183691507Z');
    assert.equal(normalizeTime('2026-11-27T18:50:13Z'), '2026-11-27T18:50:13.000000000Z');
    assert.equal(normalizeTime('2026-11-27T18:50:13.5-00:00'), '2026-11-27T18:50:13.500000000Z');
    assert.equal(normalizeTime('yesterday'), undefined);
    assert.deepEqual(parseTime('1970-01-01T00:00:01.000000002Z'), { sec: 1, nsec: 2 });
  });

  test("conmon's forms: +00:00 becomes Z, canonical passes, anything off is parsed or refused", () => {
    assert.equal(normalizeTime('2026-11-27T18:50:13.183691507+00:00'), '2026-11-27T18:50:13.183691507Z');
    assert.equal(normalizeTime('2026-11-27T18:50:13.183691507Z'), '2026-11-27T18:50:13.183691507Z');
    // Same length as the canonical form, but not it: the general parser decides.
    assert.equal(normalizeTime('2026-11-27T18:50:13.18369150xZ'), undefined);
    assert.equal(normalizeTime('2026-11-27 18:50:13.183691507Z'), undefined);
    assert.equal(normalizeTime('2026-11-27T18:50:13.183691507+00:01'), '2026-11-27T18:49:13.183691507Z');
    assert.equal(normalizeTime('2026-11-27T18:50:13.1836915x7+00:00'), undefined);
  });
});

describe('formatLine', () => {
  const line = { time: '2026-11-27T18:50:13.183691507+00:00', stream: 'stderr' as const, text: 'boom' };

  test('a plain line gives the Docker fluentd fields plus berth metadata', () => {
    const [r, extra] = formatLine(line, container, 'berth.web-1', opts);
    assert.equal(extra, undefined);
    assert.equal(r?.tag, 'berth.web-1');
    assert.equal(r?.nsec, 183691507);
    assert.equal(r?.sec, Date.UTC(2026, 10, 27, 18, 50, 13) / 1000);
    assert.deepEqual(r?.fields, {
      team: 'shop',
      DEPLOY: 'blue',
      container_id: ID,
      container_name: 'web-1',
      source: 'stderr',
      log: 'boom',
      image: 'registry:5000/shop/web',
      image_tag: '1.4',
      host: 'node1.example.com',
      time: '2026-11-27T18:50:13.183691507Z',
    });
  });

  test('labels and env outside the allow-lists are not shipped', () => {
    const [r] = formatLine(line, container, 't', opts);
    assert.equal(r?.fields.secret, undefined);
    assert.equal(r?.fields.PASSWORD, undefined);
  });

  test('a JSON object line is merged, berth fields win, the raw line stays in log', () => {
    const text = '{"level":"warn","msg":"slow","container_id":"spoofed","n":3}';
    const [r] = formatLine({ ...line, text }, container, 't', opts);
    assert.equal(r?.fields.level, 'warn');
    assert.equal(r?.fields.n, 3);
    assert.equal(r?.fields.container_id, ID);
    assert.equal(r?.fields.log, text);
  });

  test('JSON merge can be turned off; arrays and broken JSON are never merged', () => {
    const [off] = formatLine({ ...line, text: '{"a":1}' }, container, 't', { ...opts, mergeJson: false });
    assert.equal(off?.fields.a, undefined);
    const [arr] = formatLine({ ...line, text: '[1,2]' }, container, 't', opts);
    assert.equal(arr?.fields.log, '[1,2]');
    const [bad] = formatLine({ ...line, text: '{"a":' }, container, 't', opts);
    assert.equal(bad?.fields.a, undefined);
  });

  test('a line over the limit is split into flagged partial records, UTF-8 safe', () => {
    const text = `${'é'.repeat(300)}tail`;
    const small = { ...opts, maxLineBytes: 256 };
    const recs = formatLine({ ...line, text }, container, 't', small, '42:1000');
    assert.ok(recs.length >= 3);
    assert.equal(recs.map((r) => r.fields.log).join(''), text);
    for (const [i, r] of recs.entries()) {
      assert.ok(Buffer.byteLength(String(r.fields.log)) <= 256);
      assert.equal(r.fields.partial, true);
      assert.equal(r.fields.partial_ordinal, i + 1);
      assert.equal(r.fields.partial_last, i === recs.length - 1);
      assert.equal(r.fields.partial_id, recs[0]?.fields.partial_id);
    }
    // Same place in the same file → same id, so a receiver can de-duplicate a re-read.
    const again = formatLine({ ...line, text }, container, 't', small, '42:1000');
    assert.equal(again[0]?.fields.partial_id, recs[0]?.fields.partial_id);
    const elsewhere = formatLine({ ...line, text }, container, 't', small, '42:9000');
    assert.notEqual(elsewhere[0]?.fields.partial_id, recs[0]?.fields.partial_id);
  });

  test('splitUtf8 never cuts a character', () => {
    assert.deepEqual(splitUtf8('aé€😀', 4), ['aé', '€', '😀']);
    assert.deepEqual(splitUtf8('', 4), ['']);
  });
});

describe('compileTag', () => {
  test('Docker placeholders', () => {
    assert.equal(compileTag('berth.{{.Name}}')(container), 'berth.web-1');
    assert.equal(compileTag('{{.ID}}')(container), 'a1b2c3d4e5f6');
    assert.equal(compileTag('{{.FullID}}')(container), ID);
    assert.equal(
      compileTag('img.{{ .ImageName }}.{{.ImageTag}}')(container),
      'img.registry:5000/shop/web.1.4',
    );
  });

  test('unknown or malformed placeholders are config errors naming the field', () => {
    assert.throws(
      () => compileTag('x.{{.Nmae}}', 'logs.tag'),
      (e) => isInvalidArgument(e) && /logs\.tag: unknown placeholder \{\{\.Nmae\}\}/.test(String(e)),
    );
    assert.throws(
      () => compileTag('x.{{.Name'),
      (e) => isInvalidArgument(e),
    );
    assert.throws(
      () => compileTag(''),
      (e) => isInvalidArgument(e),
    );
  });
});
