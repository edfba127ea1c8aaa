import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePlatform, pickPlatform } from '../../../runtime/image/platform.js';
import { parsePullOptions } from '../../../runtime/image/pull.js';
import type { Descriptor } from '../../../runtime/image/types.js';

const d = (n: number, architecture: string, variant?: string): Descriptor => ({
  digest: `sha256:${String(n).repeat(64)}`,
  platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
});

describe('platform selection', () => {
  const index = [d(1, 'amd64'), d(2, 'arm', 'v6'), d(3, 'arm', 'v7'), d(4, 'arm64', 'v8'), d(5, 's390x')];

  test('exact os/arch/variant wins', () => {
    assert.equal(pickPlatform(index, parsePlatform('linux/arm/v7'), 'x').digest, index[2]?.digest);
    assert.equal(pickPlatform(index, parsePlatform('linux/amd64'), 'x').digest, index[0]?.digest);
  });

  test('an arm64 host matches an index entry without a variant', () => {
    assert.equal(
      pickPlatform([d(6, 'arm64')], { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x').digest,
      d(6, 'arm64').digest,
    );
  });

  test('no match names what the index has', () => {
    assert.throws(() => pickPlatform(index, parsePlatform('linux/riscv64'), 'image a:1'), {
      code: 'NotFound',
      message:
        /image a:1: no manifest for platform linux\/riscv64 \(available: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, linux\/s390x\)/,
    });
  });

  test('a malformed platform is an InvalidArgument', () => {
    assert.throws(() => parsePlatform('linux'), {
      code: 'InvalidArgument',
      message: /os\/arch\[\/variant\]/,
    });
  });
});

describe('pull options', () => {
  test('known keys pass', () => {
    assert.deepEqual(parsePullOptions({ username: 'u', password: 'p', platform: 'linux/arm64' }), {
      username: 'u',
      password: 'p',
      platform: 'linux/arm64',
    });
  });
  test('unknown keys, wrong types and a lone username are refused naming the key', () => {
    assert.throws(() => parsePullOptions({ insecure: true }), {
      code: 'InvalidArgument',
      message: /unknown option "insecure"/,
    });
    assert.throws(() => parsePullOptions({ caFile: 3 }), {
      code: 'InvalidArgument',
      message: /caFile must be a string/,
    });
    assert.throws(() => parsePullOptions({ username: 'u' }), {
      code: 'InvalidArgument',
      message: /username and password go together/,
    });
  });
});
