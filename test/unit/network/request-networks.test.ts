import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { ResolvedImage } from '../../../runtime/image/types.js';
import { OciSpecBuilder } from '../../../runtime/oci/builder.js';
import { networkFields } from '../../../src/cli/run-request.js';

/**
 * The create request's `networks` (runtime/oci: schema and cross-field
 * checks) and the run flags that make it (`--network`, `--network-alias`).
 */
const img: ResolvedImage = {
  id: 'sha256:abc',
  ref: 'busybox:latest',
  name: 'busybox',
  tag: 'latest',
  config: { Cmd: ['sh'] },
  layerDirs: [],
};
const builder = new OciSpecBuilder({
  cgroups: { version: 'hybrid', unifiedMount: '/sys/fs/cgroup/unified', v1Controllers: {} },
  volumesRoot: '/nonexistent',
  hostCpus: 2,
});
const validate = (req: Record<string, unknown>) => builder.validate({ image: 'busybox', ...req }, img);

async function refused(req: Record<string, unknown>, field: string, msg: RegExp): Promise<void> {
  await assert.rejects(validate(req), (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.equal(err.field, field, err.message);
    assert.match(err.message, msg);
    return true;
  });
}

describe('create request: networks', () => {
  test('kept in the config, aliases deduplicated; absent means the default network', async () => {
    const cfg = await validate({
      networks: [{ name: 'front', aliases: ['web', 'web'] }, { name: 'bridge' }],
    });
    assert.deepEqual(cfg.networks, [
      { name: 'front', aliases: ['web'] },
      { name: 'bridge', aliases: [] },
    ]);
    assert.equal((await validate({})).networks, undefined);
    assert.equal((await validate({ networks: [] })).networks, undefined);
  });

  test('hostile or contradictory input is refused naming the field', async () => {
    await refused({ networks: [{ name: '../x' }] }, 'networks[0].name', /network name/);
    await refused({ networks: [{ name: 'a', bogus: 1 }] }, 'networks[0].bogus', /unknown key/);
    await refused({ networks: [{ name: 'a', aliases: ['a;b'] }] }, 'networks[0].aliases[0]', /DNS name/);
    await refused({ networks: [{ name: 'a' }, { name: 'a' }] }, 'networks[1].name', /twice/);
    await refused({ networks: [{ name: 'host' }] }, 'networks[0].name', /mode/);
    await refused({ network: 'host', networks: [{ name: 'a' }] }, 'networks', /needs network bridge/);
    await refused(
      { networks: Array.from({ length: 33 }, (_, i) => ({ name: `n${i}` })) },
      'networks',
      /32|items/,
    );
  });
});

describe('run flags: --network, --network-alias', () => {
  test('modes stay modes; names become networks; aliases go to the first user network', () => {
    assert.deepEqual(networkFields([], []), {});
    assert.deepEqual(networkFields(['host'], []), { network: 'host' });
    assert.deepEqual(networkFields(['bridge'], []), { network: 'bridge' });
    assert.deepEqual(networkFields(['bridge', 'front', 'back'], ['web']), {
      network: 'bridge',
      networks: [{ name: 'bridge' }, { name: 'front', aliases: ['web'] }, { name: 'back' }],
    });
  });

  test('contradictions are refused naming the flag', () => {
    assert.throws(() => networkFields(['host', 'front'], []), /--network: host is a mode/);
    assert.throws(() => networkFields(['none'], ['x']), /--network-alias/);
    assert.throws(() => networkFields(['bridge'], ['x']), /--network-alias: only on a user-defined network/);
  });
});
