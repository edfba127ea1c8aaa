import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RegistryAuthStore, registryDomain } from '../../../runtime/image/auth.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('registry names fold to the domain image references use', () => {
  assert.equal(registryDomain('https://Registry.Example:5000/v2/'), 'registry.example:5000');
  assert.equal(registryDomain('localhost:5000'), 'localhost:5000');
  assert.equal(registryDomain('index.docker.io'), 'docker.io');
  assert.equal(registryDomain('[::1]:5000'), '[::1]:5000');
  for (const bad of ['', 'has space', 'a_b:x'])
    assert.throws(() => registryDomain(bad), /registry: .* is not a registry host\[:port\]/);
});

test('logins persist root-only, survive a reload, and are forgotten on remove', async () => {
  const file = join(dir, 'auth.json');
  const a = new RegistryAuthStore(file);
  await a.load();
  await a.save('r.example:5000', { username: 'alice', password: 's3cret', caFile: '/etc/r.pem' });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const b = new RegistryAuthStore(file);
  await b.load();
  assert.deepEqual(b.registries, {
    'r.example:5000': { username: 'alice', password: 's3cret', caFile: '/etc/r.pem' },
  });
  assert.deepEqual(b.list(), ['r.example:5000']);
  assert.equal(await b.remove('r.example:5000'), true);
  assert.equal(await b.remove('r.example:5000'), false);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { auths: {} });
});

test('a damaged file is an error that says what to do, not an empty login list', async () => {
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{ not json');
  await assert.rejects(
    new RegistryAuthStore(file).load(),
    /broken\.json: not JSON \(remove it and log in again\)/,
  );
});
