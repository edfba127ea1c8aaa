import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { VolumeOps } from '../../../runtime/volumes/ops.js';
import type { StoredVolumeInfo, VolumeMountRef, VolumePort } from '../../../runtime/volumes/types.js';

const ANON = 'a'.repeat(64);

class FakeVolumes implements VolumePort {
  readonly names = new Set<string>();
  readonly removed: string[] = [];
  /** Removed by someone else just before our remove: NotFound. */
  vanish = new Set<string>();
  async list(): Promise<StoredVolumeInfo[]> {
    return [...this.names].sort().map((name) => this.info(name));
  }
  async get(name: string): Promise<StoredVolumeInfo> {
    if (!this.names.has(name)) throw new NotFoundError(`no such volume: ${name}`);
    return this.info(name);
  }
  async create(name: string): Promise<StoredVolumeInfo> {
    this.names.add(name);
    return this.info(name);
  }
  async remove(name: string): Promise<void> {
    if (this.vanish.has(name) || !this.names.has(name)) throw new NotFoundError(`no such volume: ${name}`);
    this.names.delete(name);
    this.removed.push(name);
  }
  private info(name: string): StoredVolumeInfo {
    return { name, mountpoint: `/v/${name}/_data`, createdAt: '2026-12-07T00:00:00.000Z' };
  }
}

function setup(containers: Array<{ name: string; mounts: VolumeMountRef[] }>) {
  const port = new FakeVolumes();
  const ops = new VolumeOps(port, { all: () => containers }, silentLogger());
  return { port, ops };
}

describe('VolumeOps (fake volume port)', () => {
  it('ls and inspect say who mounts a volume and whether it is anonymous', async () => {
    const { port, ops } = setup([
      { name: 'web', mounts: [{ name: 'data', anonymous: false }] },
      { name: 'api', mounts: [{ name: 'data', anonymous: false }] },
    ]);
    await port.create('data');
    await port.create(ANON);
    const list = await ops.list();
    assert.deepEqual(
      list.map((v) => [v.name, v.anonymous, v.usedBy]),
      [
        [ANON, true, []],
        ['data', false, ['api', 'web']],
      ],
    );
    assert.deepEqual((await ops.inspect('data')).usedBy, ['api', 'web']);
    assert.equal((await ops.create('new')).usedBy.length, 0);
  });

  it('rm refuses a volume in use, naming the containers; removes it once free', async () => {
    const containers = [{ name: 'web', mounts: [{ name: 'data', anonymous: false }] }];
    const { port, ops } = setup(containers);
    await port.create('data');
    await assert.rejects(ops.remove('data'), /volume data is in use by container web: remove it first/);
    containers.pop();
    await ops.remove('data');
    assert.deepEqual(port.removed, ['data']);
  });

  it('prune takes only unused volumes and counts one removed meanwhile as not pruned', async () => {
    const { port, ops } = setup([{ name: 'web', mounts: [{ name: 'keep', anonymous: false }] }]);
    for (const n of ['keep', 'old', 'gone']) await port.create(n);
    port.vanish.add('gone');
    assert.deepEqual(await ops.prune(), ['old']);
    assert.ok(port.names.has('keep'));
  });

  it("a removed container's anonymous volumes go, unless another container mounts one; named ones stay", async () => {
    const { port, ops } = setup([{ name: 'other', mounts: [{ name: 'b'.repeat(64), anonymous: true }] }]);
    for (const n of [ANON, 'b'.repeat(64), 'named']) await port.create(n);
    await ops.dropAnonymous('c1', [
      { name: ANON, anonymous: true },
      { name: 'b'.repeat(64), anonymous: true },
      { name: 'named', anonymous: false },
      { name: 'd'.repeat(64), anonymous: true },
    ]);
    assert.deepEqual(port.removed, [ANON]);
  });

  it('without a volume store the verbs say so (NotImplemented)', async () => {
    const ops = new VolumeOps(undefined, { all: () => [] }, silentLogger());
    await assert.rejects(ops.list(), (err: Error & { code?: string }) => err.code === 'NotImplemented');
    await ops.dropAnonymous('c1', [{ name: ANON, anonymous: true }]);
    await ops.sweep();
  });
});
