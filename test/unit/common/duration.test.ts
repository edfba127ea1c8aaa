import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goDurationMs, parseDuration } from '../../../runtime/base/duration.js';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';

test('Go durations, as Docker, Registrator and Consul write them', () => {
  assert.equal(goDurationMs('10s'), 10_000);
  assert.equal(goDurationMs('1m30s'), 90_000);
  assert.equal(goDurationMs('500ms'), 500);
  assert.equal(goDurationMs('1.5s'), 1500);
  assert.equal(goDurationMs('1h'), 3_600_000);
  assert.equal(goDurationMs('250us'), 0.25);
  assert.equal(goDurationMs(' 0 '), 0);
  for (const bad of ['', '10', 's', '10x', '1m banana', '-1s', '1s2'])
    assert.equal(goDurationMs(bad), undefined, bad);
});

test('config values and container specs read durations the same way, each naming its field when wrong', () => {
  const config = { unitless: 'ms' } as const;
  assert.equal(parseDuration('1h30m', 'stopTimeout', config), 5_400_000);
  assert.equal(parseDuration('1500', 'stopTimeout', config), 1500); // a bare number is milliseconds in the config
  assert.throws(() => parseDuration('10 s', 'stopTimeout', config), /stopTimeout: "10 s" is not a duration/);
  assert.equal(parseDuration('30s', 'healthcheck.interval'), 30_000);
  assert.throws(
    () => parseDuration('30', 'healthcheck.interval'),
    /healthcheck.interval: "30" is not a duration \(e\.g\. 30s, 1m30s, 500ms\): a unit is required/,
  );
});

test('parses durations: Go units, a number as milliseconds, 0 without a unit', () => {
  assert.equal(parseDuration('1h30m', 'interval'), 5_400_000);
  assert.equal(parseDuration('250ms', 'interval'), 250);
  assert.equal(parseDuration('250us', 'interval'), 0.25);
  assert.equal(parseDuration(42, 'interval'), 42);
  assert.equal(parseDuration(1.5, 'interval'), 1.5);
  assert.equal(parseDuration('0', 'interval'), 0);
  assert.equal(parseDuration(' 2.5 ', 'interval', { unitless: 'ms' }), 2.5);
  assert.throws(() => parseDuration('10 seconds', 'interval'), /duration/);
});

test('a wrong duration names the field and the value', () => {
  for (const bad of ['soon', '', '-1s', '10x', '1m banana', -1, Number.POSITIVE_INFINITY, true, null]) {
    assert.throws(
      () => parseDuration(bad, 'healthcheck.timeout', { unitless: 'ms' }),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.field === 'healthcheck.timeout' &&
        err.message ===
          `healthcheck.timeout: ${JSON.stringify(bad)} is not a duration (e.g. 30s, 1m30s, 500ms)`,
      String(bad),
    );
  }
});
