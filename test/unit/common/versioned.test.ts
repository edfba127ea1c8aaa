import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFailedPrecondition } from '../../../runtime/base/errors.js';
import { checkVersion, stampVersion } from '../../../runtime/base/versioned.js';

test('stampVersion sets schemaVersion and keeps every other field', () => {
  const out = stampVersion({ a: 1, b: { c: 'x' } }, 1);
  assert.deepEqual(out, { schemaVersion: 1, a: 1, b: { c: 'x' } });
  assert.equal(Object.keys(out)[0], 'schemaVersion');
  // An object that already carries one gets the version given.
  assert.equal(stampVersion({ schemaVersion: 7, a: 1 }, 2).schemaVersion, 2);
});

test('checkVersion: no field is version 1 (files written before versioning); known versions pass', () => {
  assert.equal(checkVersion({ refs: {} }, { file: 'f.json', current: 1 }), 1);
  assert.equal(checkVersion({ schemaVersion: 1 }, { file: 'f.json', current: 1 }), 1);
  assert.equal(checkVersion({ schemaVersion: 2 }, { file: 'f.json', current: 3 }), 2);
  assert.equal(checkVersion(stampVersion({ x: 1 }, 1), { file: 'f.json', current: 1 }), 1);
});

test('checkVersion refuses a newer version naming the file and both versions', () => {
  assert.throws(
    () => checkVersion({ schemaVersion: 2 }, { file: '/var/lib/berth/images/index.json', current: 1 }),
    (err: Error) =>
      isFailedPrecondition(err) &&
      err.message.includes('/var/lib/berth/images/index.json') &&
      err.message.includes('schemaVersion 2') &&
      err.message.includes('(1)'),
  );
});

test('checkVersion refuses a non-number, a non-integer, zero, and a non-object', () => {
  for (const v of ['1', null, 1.5, 0, -1, true, [1]]) {
    assert.throws(
      () => checkVersion({ schemaVersion: v }, { file: 'f.json', current: 1 }),
      (err: Error) => isFailedPrecondition(err) && err.message.startsWith('f.json: schemaVersion'),
      JSON.stringify(v),
    );
  }
  for (const o of [null, 3, 'x', [1]])
    assert.throws(() => checkVersion(o, { file: 'f.json', current: 1 }), /f\.json: not a JSON object/);
});
