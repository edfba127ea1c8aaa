/**
 * ipam.json and network.json as today's release wrote them
 * (test/fixtures/state/v0, no schemaVersion) load through the real readers;
 * this release writes schemaVersion 1; a newer file is refused and nothing
 * in it is freed or torn down (issue 13).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Logger } from '../../../runtime/base/log.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { Ipam } from '../../../runtime/network/ipam.js';
import { AttachmentStore } from '../../../runtime/network/records.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const V0 = join(import.meta.dirname, '../../fixtures/state/v0');
const ID = 'e7c50af766caaa893215849e3f6bf79d4ba770b560c4cdb68c75a14940dcf799';
const SUBNET = '10.215.78.0/24';

let dir: string;
before(async () => {
  dir = await tempDir('network-v0');
});
after(async () => {
  await removeDir(dir);
});

test('the v0 ipam.json loads: the leased address is known and not handed out again', async () => {
  const stateDir = join(dir, 'ipam-v0');
  await mkdir(stateDir);
  await copyFile(join(V0, 'ipam.json'), join(stateDir, 'ipam.json'));
  const ipam = new Ipam({ stateDir, subnet: SUBNET });
  assert.deepEqual(await ipam.allocations(), { '10.215.78.2': ID });
  assert.equal(await ipam.allocate(ID), '10.215.78.2');
  assert.equal(await ipam.allocate('other'), '10.215.78.3');
  const written = JSON.parse(await readFile(join(stateDir, 'ipam.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(written.schemaVersion, 1);
  assert.equal(written.version, 1);
  assert.deepEqual(await new Ipam({ stateDir, subnet: SUBNET }).allocations(), {
    '10.215.78.2': ID,
    '10.215.78.3': 'other',
  });
});

test('a newer ipam.json is refused naming the file and both versions; nothing is freed', async () => {
  const stateDir = join(dir, 'ipam-v2');
  await mkdir(stateDir);
  const v0 = JSON.parse(await readFile(join(V0, 'ipam.json'), 'utf8')) as object;
  const text = JSON.stringify({ ...v0, schemaVersion: 2 });
  await writeFile(join(stateDir, 'ipam.json'), text);
  const ipam = new Ipam({ stateDir, subnet: SUBNET });
  const refused = (err: Error) =>
    err.message.includes(join(stateDir, 'ipam.json')) &&
    err.message.includes('schemaVersion 2 ') &&
    err.message.includes('(1)');
  await assert.rejects(ipam.allocate('x'), refused);
  await assert.rejects(ipam.retainOnly(new Set()), refused);
  assert.equal(await readFile(join(stateDir, 'ipam.json'), 'utf8'), text);
});

test('the v0 network.json is read: bridge, netns, veth, address and published port', async () => {
  const stateDir = join(dir, 'rec-v0');
  await mkdir(join(stateDir, ID), { recursive: true });
  await copyFile(join(V0, 'network.json'), join(stateDir, ID, 'network.json'));
  const store = new AttachmentStore(stateDir, silentLogger());
  const rec = await store.read(ID);
  assert.ok(rec);
  assert.equal(rec.mode, 'bridge');
  assert.equal(rec.address, '10.215.78.2');
  assert.equal(rec.netns, 'berth-e7c50af766ca');
  assert.equal(rec.veth, 'vbe7c50af766ca');
  assert.deepEqual(rec.ports, [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 18080 }]);
  assert.deepEqual(await store.list(), [rec]);
  // Rewritten by this release: schemaVersion 1, and read back as the same record.
  await store.write(rec);
  const raw = JSON.parse(await readFile(join(stateDir, ID, 'network.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(raw.schemaVersion, 1);
  assert.deepEqual(await store.read(ID), rec);
});

test('a newer network.json: read fails naming it, list logs and skips it, the file stays', async () => {
  const stateDir = join(dir, 'rec-v2');
  await mkdir(join(stateDir, ID), { recursive: true });
  const v0 = JSON.parse(await readFile(join(V0, 'network.json'), 'utf8')) as object;
  await writeFile(join(stateDir, ID, 'network.json'), JSON.stringify({ ...v0, schemaVersion: 2 }));
  const warned: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warned.push(msg) } as unknown as Logger;
  const store = new AttachmentStore(stateDir, log);
  await assert.rejects(
    store.read(ID),
    (err: Error) =>
      err.message.includes(`${ID}/network.json`) &&
      err.message.includes('schemaVersion 2 ') &&
      err.message.includes('(1)'),
  );
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(warned, ['network: skipping an unreadable attachment record']);
  assert.ok((await readFile(join(stateDir, ID, 'network.json'), 'utf8')).includes('"schemaVersion":2'));
});
