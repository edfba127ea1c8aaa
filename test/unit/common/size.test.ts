import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { parseSize } from '../../../runtime/base/size.js';

test("sizes in Docker's notation: b/k/m/g/t/p, optional i and b, any case, binary units", () => {
  const cases: Array<[string | number, number]> = [
    ['1048576', 1_048_576],
    ['100b', 100],
    ['64k', 65_536],
    ['64kb', 65_536],
    ['64KiB', 65_536],
    ['64ki', 65_536],
    ['512m', 512 * 1024 ** 2],
    ['512MB', 512 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['1t', 1024 ** 4],
    ['1p', 1024 ** 5],
    [' 10 m ', 10 * 1024 ** 2],
    ['0.5k', 512],
    ['1.0001k', 1024], // a fraction of a byte is dropped
    [4096, 4096],
    [0, 0],
  ];
  for (const [input, want] of cases) assert.equal(parseSize(input, 'memory'), want, String(input));
});

test('a wrong size names the field and the value', () => {
  for (const bad of [
    'lots',
    '12q',
    '',
    'k',
    '-1m',
    '1i',
    '1ib',
    '1bb',
    '1 kb b',
    '1e3',
    1.5,
    -1,
    Number.NaN,
    null,
    {},
  ]) {
    assert.throws(
      () => parseSize(bad, 'memory'),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.field === 'memory' &&
        err.message === `memory: ${JSON.stringify(bad)} is not a size (e.g. 512m, 1g)`,
      String(bad),
    );
  }
});

test('config sizes: whole bytes from fractional units', () => {
  assert.equal(parseSize('64k', 'size'), 65_536);
  assert.equal(parseSize('1.5g', 'size'), 1.5 * 1024 ** 3);
  assert.throws(() => parseSize('lots', 'size'), /is not a size/);
});
