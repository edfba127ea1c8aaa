import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ipam } from '../../../runtime/network/ipam.js';

describe('Ipam', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-ipam-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const fresh = async () =>
    new Ipam({ stateDir: await mkdtemp(path.join(dir, 's-')), subnet: '10.50.0.0/24' });

  test('hands out addresses after the gateway, one per container, idempotently', async () => {
    const ipam = await fresh();
    assert.equal(await ipam.allocate('a'), '10.50.0.2');
    assert.equal(await ipam.allocate('b'), '10.50.0.3');
    assert.equal(await ipam.allocate('a'), '10.50.0.2');
  });

  test('concurrent allocations in one process never share an address', async () => {
    const ipam = await fresh();
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const ips = await Promise.all(ids.map((id) => ipam.allocate(id)));
    assert.equal(new Set(ips).size, ids.length);
    const all = await ipam.allocations();
    for (const [i, id] of ids.entries()) assert.equal(all[ips[i] ?? ''], id);
  });

  test('never hands out a live address; a released one comes back only after the others', async () => {
    const ipam = await fresh();
    const a = await ipam.allocate('a');
    const b = await ipam.allocate('b');
    await ipam.release('a');
    const c = await ipam.allocate('c');
    assert.notEqual(c, b);
    assert.notEqual(c, a, 'a just-freed address is not reused while others are free');
    assert.equal((await ipam.allocations())[b], 'b');
  });

  test('exhaustion is a FailedPrecondition naming the subnet; releasing makes room', async () => {
    const ipam = new Ipam({ stateDir: await mkdtemp(path.join(dir, 's-')), subnet: '10.51.0.0/29' });
    // /29: 8 addresses minus network, gateway, broadcast = 5 usable.
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await ipam.allocate(`x${i}`));
    assert.deepEqual([...got].sort(), ['10.51.0.2', '10.51.0.3', '10.51.0.4', '10.51.0.5', '10.51.0.6']);
    await assert.rejects(
      ipam.allocate('x5'),
      (err: Error & { code?: string }) =>
        err.code === 'FailedPrecondition' && err.message.includes('10.51.0.0/29'),
    );
    await ipam.release('x2');
    assert.equal(await ipam.allocate('x5'), got[2]);
  });

  test('allocations persist across instances and retainOnly frees the rest', async () => {
    const stateDir = await mkdtemp(path.join(dir, 's-'));
    const first = new Ipam({ stateDir, subnet: '10.50.0.0/24' });
    const a = await first.allocate('a');
    const b = await first.allocate('b');
    const second = new Ipam({ stateDir, subnet: '10.50.0.0/24' });
    const c = await second.allocate('c');
    assert.ok(![a, b].includes(c));
    assert.equal(await second.allocate('a'), a);
    const freed = await second.retainOnly(new Set(['a']));
    assert.deepEqual(freed.map((f) => f.id).sort(), ['b', 'c']);
    const onDisk = JSON.parse(await readFile(path.join(stateDir, 'ipam.json'), 'utf8')) as {
      allocations: Record<string, string>;
    };
    assert.deepEqual(onDisk.allocations, { [a]: 'a' });
  });

  test('a corrupt state file is an error naming the file, not a silent reset', async () => {
    const stateDir = await mkdtemp(path.join(dir, 's-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(stateDir, 'ipam.json'), '{not json');
    const ipam = new Ipam({ stateDir, subnet: '10.50.0.0/24' });
    await assert.rejects(ipam.allocate('a'), /ipam\.json: IPAM state is not valid JSON/);
  });

  test('a subnet with host bits or a bad prefix is rejected naming the field', () => {
    assert.throws(
      () => new Ipam({ stateDir: dir, subnet: '10.50.0.1/24' }),
      (err: Error & { field?: string }) => err.field === 'subnet' && /10\.50\.0\.0\/24/.test(err.message),
    );
    assert.throws(() => new Ipam({ stateDir: dir, subnet: '10.50.0.0/31' }), /prefix between/);
    assert.throws(() => new Ipam({ stateDir: dir, subnet: '300.1.0.0/16' }), /not an IPv4/);
  });
});
