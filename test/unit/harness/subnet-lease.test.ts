import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { leaseSubnet } from '../../harness/host-shared.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

describe('harness: subnet leases for agents of files running at the same time', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('leases');
  });
  after(async () => {
    await removeDir(dir);
  });

  it('hands out distinct /24s of 10.215.0.0/16 and frees them on release', async () => {
    const leases = [];
    for (let i = 0; i < 20; i++) leases.push(await leaseSubnet(dir));
    const subnets = leases.map((l) => l.subnet);
    assert.equal(new Set(subnets).size, 20, subnets.join(' '));
    for (const s of subnets) assert.match(s, /^10\.215\.(\d{1,3})\.0\/24$/);
    for (const l of leases) await l.release();
    assert.deepEqual(await readdir(dir), []);
  });

  it('takes over a lease whose process is gone, never one whose process lives', async () => {
    // A pid that surely is gone: a child that has exited and been reaped.
    const dead = spawnSync('true').pid;
    for (let n = 0; n < 256; n++) await writeFile(join(dir, String(n)), String(n < 255 ? process.pid : dead));
    const l = await leaseSubnet(dir);
    assert.equal(l.subnet, '10.215.255.0/24');
    await assert.rejects(leaseSubnet(dir), /no free test subnet/);
    await l.release();
  });
});
