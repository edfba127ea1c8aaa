import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatTime,
  isCanonical,
  normalizeTime,
  parseCanonical,
  parseTime,
} from '../../../runtime/base/rfc3339.js';

test('the canonical form is UTC with nine fractional digits and Z', () => {
  assert.equal(isCanonical('2026-11-27T18:50:13.183691507Z'), true);
  for (const t of [
    '2026-11-27T18:50:13.18369150Z',
    '2026-11-27T18:50:13.183691507+00:00',
    '2026-11-27 18:50:13.183691507Z',
  ])
    assert.equal(isCanonical(t), false, t);
  assert.deepEqual(parseCanonical('1970-01-01T00:01:00.000000007Z'), { sec: 60, nsec: 7 });
  assert.equal(formatTime(60, 7), '1970-01-01T00:01:00.000000007Z');
});

test('any RFC 3339 time parses to seconds and nanoseconds, and normalises to the canonical form', () => {
  assert.deepEqual(parseTime('1970-01-01T01:00:01.5+01:00'), { sec: 1, nsec: 500_000_000 });
  assert.deepEqual(parseTime('1970-01-01t00:00:01z'), { sec: 1, nsec: 0 });
  assert.equal(parseTime('yesterday'), undefined);
  assert.equal(normalizeTime('2026-11-27T18:50:13.183691507+00:00'), '2026-11-27T18:50:13.183691507Z');
  assert.equal(normalizeTime('2026-11-27T20:50:15.000000123+02:00'), '2026-11-27T18:50:15.000000123Z');
  assert.equal(normalizeTime('2026-11-27T18:50:15-00:30'), '2026-11-27T19:20:15.000000000Z');
  assert.equal(normalizeTime('2026-11-27T18:50:15.1234567891Z'), undefined, 'ten fractional digits');
});
