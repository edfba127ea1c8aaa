import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalReference, parseReference, splitReference } from '../../../runtime/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('image references', () => {
  for (const [input, ref, canonical] of [
    ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['docker.io/library/busybox', 'busybox:latest', 'docker.io/library/busybox:latest'],
    ['index.docker.io/team/app:v2', 'team/app:v2', 'docker.io/team/app:v2'],
    ['127.0.0.1:5000/app:1', '127.0.0.1:5000/app:1', '127.0.0.1:5000/app:1'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['ghcr.io/o/r/x', 'ghcr.io/o/r/x:latest', 'ghcr.io/o/r/x:latest'],
    [`app@${D}`, `app@${D}`, `docker.io/library/app@${D}`],
    [`reg:5000/app:1@${D}`, `reg:5000/app:1@${D}`, `reg:5000/app:1@${D}`],
  ] as const) {
    test(`${input} → ${ref}`, () => {
      const r = parseReference(input);
      assert.equal(r.ref, ref);
      assert.equal(canonicalReference(r), canonical);
    });
  }

  test('name/tag split for descriptors', () => {
    assert.deepEqual(splitReference('busybox'), { name: 'busybox', tag: 'latest' });
    assert.deepEqual(splitReference('127.0.0.1:5000/app:1'), { name: '127.0.0.1:5000/app', tag: '1' });
    assert.deepEqual(splitReference(`app@${D}`), { name: 'app', tag: '' });
  });

  for (const [input, reason] of [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['app:bad tag', /tag/],
    ['app@sha256:abc', /digest/],
    ['a//b', /path component/],
  ] as const) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: Error) => {
          assert.equal((err as { code?: string }).code, 'InvalidArgument');
          assert.match(err.message, reason);
          return true;
        },
      );
    });
  }
});
