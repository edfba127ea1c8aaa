import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, since } from '../../../src/cli/format.js';

test("durations read as Docker's ps and images print them", () => {
  const now = Date.parse('2026-01-31T12:00:00Z');
  const at = (seconds: number) => new Date(now - seconds * 1000).toISOString();
  const cases: Array<[number, string]> = [
    [0.4, 'Less than a second'],
    [1, '1 second'],
    [59, '59 seconds'],
    [60, 'About a minute'],
    [119, 'About a minute'],
    [120, '2 minutes'],
    [3599, '59 minutes'],
    [3600, 'About an hour'],
    [5400, '2 hours'],
    [47 * 3600, '47 hours'],
    [48 * 3600, '2 days'],
    [13 * 86400, '13 days'],
    [14 * 86400, '2 weeks'],
    [60 * 86400, '2 months'],
    [730 * 86400, '2 years'],
  ];
  for (const [s, want] of cases) assert.equal(since(at(s), now), want, `${s} s`);
  assert.equal(ago(at(3), now), '3 seconds ago');
  assert.equal(ago(undefined, now), '');
});
