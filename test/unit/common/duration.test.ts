import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../../runtime/base/config.js';
import { goDurationMs } from '../../../runtime/base/duration.js';
import { parseDurationMs } from '../../../runtime/oci/parse.js';

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
  assert.equal(parseDuration('1h30m', 'stopTimeout'), 5_400_000);
  assert.equal(parseDuration('1500', 'stopTimeout'), 1500); // a bare number is milliseconds in the config
  assert.throws(() => parseDuration('10 s', 'stopTimeout'), /stopTimeout: must be a duration like 500ms/);
  assert.equal(parseDurationMs('30s', 'healthcheck.interval'), 30_000);
  assert.throws(
    () => parseDurationMs('30', 'healthcheck.interval'),
    /healthcheck.interval: "30" is not a duration/,
  );
});
