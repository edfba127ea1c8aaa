import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { errorCode } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { BridgeNetworkManager } from '../../../runtime/network/bridge.js';
import { FakeHost } from './fake-host.js';

/**
 * User-defined networks through the manager's seams against the in-memory
 * host (fake-host.ts): what create, attach to several networks, connect,
 * disconnect, rm and restore do to links, rules, IPAM and state files. The
 * real kernel runs the same in test/integration/network/user-networks.test.ts.
 */
const A = `aaaaaaaaaaaa${'0'.repeat(52)}`;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let host: FakeHost;
let stateDir: string;

function manager(): BridgeNetworkManager {
  return new BridgeNetworkManager({
    stateDir,
    bridge: 'bt0',
    subnet: '10.99.0.0/24',
    logger: silentLogger(),
    runner: host,
    sysctl: host,
    probePort: async (_ip, port) => (port === 0 ? 40000 : port),
    hostResolvConf: path.join(stateDir, '..', 'resolv.conf'),
    hostHosts: path.join(stateDir, '..', 'hosts'),
  });
}

beforeEach(async () => {
  host = new FakeHost();
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-usernet-unit-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  await writeFile(path.join(dir, 'hosts'), '127.0.0.1\tlocalhost\n');
  stateDir = path.join(dir, 'network');
});

const allRules = () =>
  (['nat', 'filter'] as const).flatMap((t) =>
    [...host.tables[t].entries()].flatMap(([chain, rules]) => rules.map((r) => `${chain} ${r.join(' ')}`)),
  );

describe('user-defined networks (fake host)', () => {
  test('create: own bridge, the first free /24 of the pool, isolation and NAT rules, a definition on disk', async () => {
    const m = manager();
    const a = await m.createNetwork({ name: 'a', labels: { 'com.docker.compose.project': 'p' } });
    const b = await m.createNetwork({ name: 'b' });
    assert.match(a.bridge, /^bn-[0-9a-f]{12}$/);
    assert.equal(a.subnet, '10.89.0.0/24');
    assert.equal(a.gateway, '10.89.0.1');
    assert.equal(b.subnet, '10.89.1.0/24');
    assert.equal(host.links.get(a.bridge)?.kind, 'bridge');
    assert.deepEqual(host.links.get(a.bridge)?.addrs, ['10.89.0.1/24']);
    assert.deepEqual(host.rules('filter', 'BERTH-ISOLATE-2'), [
      `-o ${a.bridge} -m comment --comment berth:${a.bridge} -j DROP`,
      `-o ${b.bridge} -m comment --comment berth:${b.bridge} -j DROP`,
    ]);
    assert.ok(
      host
        .rules('nat', 'BERTH-POSTROUTING')
        .includes(`-s 10.89.0.0/24 ! -o ${a.bridge} -m comment --comment berth:${a.bridge} -j MASQUERADE`),
    );
    const def = JSON.parse(await readFile(path.join(stateDir, 'networks', 'a', 'network.json'), 'utf8'));
    assert.equal(def.schemaVersion, 1);
    assert.deepEqual(def.labels, { 'com.docker.compose.project': 'p' });
    await assert.rejects(m.createNetwork({ name: 'a' }), (e) => errorCode(e) === 'AlreadyExists');
    await assert.rejects(
      m.createNetwork({ name: 'c', subnet: '10.89.0.128/25' }),
      /overlaps 10\.89\.0\.0\/24 of network a/,
    );
    await assert.rejects(
      m.createNetwork({ name: 'd', subnet: '10.99.0.0/16' }),
      /overlaps .*default network/,
    );
    assert.deepEqual(
      (await m.listNetworks()).map((n) => n.name),
      ['bridge', 'a', 'b'],
    );
  });

  test('internal: no NAT, nothing in or out of the bridge but its own traffic', async () => {
    const m = manager();
    const n = await m.createNetwork({
      name: 'inner',
      internal: true,
      subnet: '192.168.50.0/24',
      gateway: '192.168.50.254',
    });
    assert.equal(n.gateway, '192.168.50.254');
    const mine = allRules().filter((r) => r.includes(`berth:${n.bridge}`));
    assert.ok(!mine.some((r) => r.includes('MASQUERADE')), mine.join('\n'));
    assert.ok(
      mine.includes(
        `BERTH-ISOLATE -i ${n.bridge} ! -o ${n.bridge} -m comment --comment berth:${n.bridge} -j DROP`,
      ),
    );
    assert.ok(
      mine.includes(
        `BERTH-ISOLATE -o ${n.bridge} ! -i ${n.bridge} -m comment --comment berth:${n.bridge} -j DROP`,
      ),
    );
    // The gateway is never handed out; the first address is.
    const att = await m.attach(A, {
      mode: 'bridge',
      hostname: 'x',
      ports: [],
      networks: [{ name: 'inner' }],
    });
    assert.equal(att.addresses.inner, '192.168.50.1');
    // No default route on an internal network: a /32 to the embedded DNS (the default gateway) instead.
    assert.ok(
      host.commands.includes(
        `ip -n berth-aaaaaaaaaaaa route replace 10.99.0.1/32 via 192.168.50.254 dev eth0`,
      ),
    );
    assert.ok(!host.commands.some((c) => c.includes('route add default')));
  });

  test('a container on two networks: one veth and one address each; ports on the first; detach frees all', async () => {
    const m = manager();
    const a = await m.createNetwork({ name: 'a' });
    const att = await m.attach(A, {
      mode: 'bridge',
      hostname: 'x',
      ports: [{ containerPort: 80, hostPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' }],
      networks: [{ name: 'a', aliases: ['web'] }, { name: 'bridge' }],
    });
    assert.deepEqual(att.addresses, { a: '10.89.0.2', bridge: '10.99.0.2' });
    assert.deepEqual(att.aliases, { a: ['web'] });
    assert.equal(host.links.get('vbaaaaaaaaaaaa')?.master, a.bridge);
    assert.equal(host.links.get('vbaaaaaaaaaaaa1')?.master, 'bt0');
    assert.ok(host.commands.includes(`ip -n berth-aaaaaaaaaaaa route add default via 10.89.0.1 dev eth0`));
    assert.ok(host.commands.some((c) => c.includes('peer name eth1 netns berth-aaaaaaaaaaaa')));
    assert.deepEqual(host.rules('nat', 'BERTH-DNAT'), [
      `-p tcp -m tcp --dport 8080 -m comment --comment berth:${a.bridge}:aaaaaaaaaaaa -j DNAT --to-destination 10.89.0.2:80`,
    ]);
    const hosts = await readFile(att.hostsPath ?? '', 'utf8');
    assert.match(hosts, /^10\.89\.0\.2\tx$/m);
    const info = await m.inspectNetwork('a');
    assert.deepEqual(info.containers, [{ id: A, address: '10.89.0.2', aliases: ['web'] }]);
    // rm of a network with a container on it: refused naming it.
    await assert.rejects(
      m.removeNetwork('a'),
      (e: Error) => errorCode(e) === 'FailedPrecondition' && /aaaaaaaaaaaa/.test(e.message),
    );
    await m.detach(A);
    assert.ok(!host.links.has('vbaaaaaaaaaaaa') && !host.links.has('vbaaaaaaaaaaaa1'));
    assert.equal(host.netns.size, 0);
    assert.ok(!allRules().some((r) => r.includes('aaaaaaaaaaaa')));
    const ipam = JSON.parse(await readFile(path.join(stateDir, 'networks', 'a', 'ipam.json'), 'utf8'));
    assert.deepEqual(ipam.allocations, {});
    await m.removeNetwork('a');
    assert.ok(!host.links.has(a.bridge));
    assert.ok(!allRules().some((r) => r.includes(a.bridge)), allRules().join('\n'));
    assert.ok(!existsSync(path.join(stateDir, 'networks', 'a')));
  });

  test('connect adds a link live; disconnect removes it; the last or a publishing first network is kept', async () => {
    const m = manager();
    await m.createNetwork({ name: 'a' });
    const b = await m.createNetwork({ name: 'b' });
    await m.attach(A, { mode: 'bridge', hostname: 'x', ports: [], networks: [{ name: 'a' }] });
    const att = await m.connect(A, 'b', ['bee']);
    assert.deepEqual(att.addresses, { a: '10.89.0.2', b: '10.89.1.2' });
    assert.equal(host.links.get('vbaaaaaaaaaaaa1')?.master, b.bridge);
    await assert.rejects(m.connect(A, 'b'), (e) => errorCode(e) === 'AlreadyExists');
    await assert.rejects(m.connect(A, 'nope'), /no such network: nope/);
    // Leaving the first network: the default route moves to b, the hosts line follows.
    const left = await m.disconnect(A, 'a');
    assert.deepEqual(left.addresses, { b: '10.89.1.2' });
    assert.ok(
      host.commands.includes('ip -n berth-aaaaaaaaaaaa route replace default via 10.89.1.1 dev eth1'),
    );
    assert.match(await readFile(left.hostsPath ?? '', 'utf8'), /^10\.89\.1\.2\tx$/m);
    assert.ok(!host.links.has('vbaaaaaaaaaaaa'));
    await assert.rejects(m.disconnect(A, 'b'), /only/);
    // A reconnect takes the freed interface number.
    await m.connect(A, 'a');
    assert.ok(host.links.has('vbaaaaaaaaaaaa'));
    await m.detach(A);
  });

  test('restore re-creates a network whose bridge is gone and finishes a removal a crash cut short', async () => {
    const m = manager();
    const a = await m.createNetwork({ name: 'a' });
    const b = await m.createNetwork({ name: 'b' });
    // A reboot (bridges gone) and a crash mid-removal of b (definition marked, bridge still there).
    host.links.delete(a.bridge);
    const defB = path.join(stateDir, 'networks', 'b', 'network.json');
    await writeFile(defB, JSON.stringify({ ...JSON.parse(await readFile(defB, 'utf8')), removing: true }));
    const again = manager();
    await again.restore([]);
    assert.equal(host.links.get(a.bridge)?.kind, 'bridge');
    assert.ok(!host.links.has(b.bridge));
    assert.ok(!existsSync(path.join(stateDir, 'networks', 'b')));
    assert.deepEqual(
      (await again.listNetworks()).map((n) => n.name),
      ['bridge', 'a'],
    );
    assert.equal(await again.pruneNetworks().then((r) => r.join()), 'a');
    assert.ok(!host.links.has(a.bridge));
  });

  test('destroy (agent --cleanup-network) leaves no bridge, rule or chain of any network; definitions stay', async () => {
    const m = manager();
    const a = await m.createNetwork({ name: 'a' });
    await m.attach(A, {
      mode: 'bridge',
      hostname: 'x',
      ports: [],
      networks: [{ name: 'a' }, { name: 'bridge' }],
    });
    await m.destroy();
    assert.ok(!host.links.has(a.bridge) && !host.links.has('bt0'));
    assert.deepEqual(allRules(), []);
    assert.ok(![...host.tables.filter.keys()].some((c) => c.startsWith('BERTH-')));
    assert.ok(existsSync(path.join(stateDir, 'networks', 'a', 'network.json')));
    // The next start brings the network back.
    await manager().restore([]);
    assert.equal(host.links.get(a.bridge)?.kind, 'bridge');
  });
});
