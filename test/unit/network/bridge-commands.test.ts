import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { errorCode, isFailedPrecondition } from '../../../runtime/base/errors.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { BridgeNetworkManager } from '../../../runtime/network/bridge.js';
import { Ipam } from '../../../runtime/network/ipam.js';
import type { PortMapping } from '../../../runtime/types.js';
import { FakeHost } from './fake-host.js';

/**
 * The bridge manager through its injectable seams (command runner, sysctl,
 * port probe) against an in-memory host (fake-host.ts): the exact `ip`,
 * `iptables` and sysctl changes of attach, detach, publish, restore and
 * destroy, and the rollback when one of them fails. No root needed; the same
 * manager runs against the real kernel in test/integration/network.
 */
const A = `aaaaaaaaaaaa${'0'.repeat(52)}`;
const B = `bbbbbbbbbbbb${'0'.repeat(52)}`;
const NS_A = 'berth-aaaaaaaaaaaa';
const VETH_A = 'vbaaaaaaaaaaaa';
const TAG_A = 'berth:bt0:aaaaaaaaaaaa';
const tcp = (containerPort: number, hostPort: number, hostIp = '0.0.0.0'): PortMapping => ({
  containerPort,
  hostPort,
  hostIp,
  protocol: 'tcp',
});

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let host: FakeHost;
let stateDir: string;
/** Host ports a host process holds (the probe says taken); port 0 picks 40000, 40001, … */
let busy: Set<number>;
let nextFree: number;

function manager(opts: { bridge?: string } = {}): BridgeNetworkManager {
  return new BridgeNetworkManager({
    stateDir,
    bridge: opts.bridge ?? 'bt0',
    subnet: '10.99.0.0/24',
    logger: silentLogger(),
    runner: host,
    sysctl: host,
    probePort: async (_ip, port) => {
      if (port === 0) return nextFree++;
      return busy.has(port) ? undefined : port;
    },
    hostResolvConf: path.join(stateDir, '..', 'resolv.conf'),
    hostHosts: path.join(stateDir, '..', 'hosts'),
  });
}

beforeEach(async () => {
  host = new FakeHost();
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bridge-unit-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\nsearch example.org\n');
  await writeFile(path.join(dir, 'hosts'), '127.0.0.1\tlocalhost\n');
  stateDir = path.join(dir, 'network');
  busy = new Set();
  nextFree = 40000;
});

const BRIDGE_UP = [
  'ip link add name bt0 type bridge',
  'ip link set dev bt0 address 02:42:0a:63:00:01',
  'ip addr add 10.99.0.1/24 dev bt0',
  'ip link set dev bt0 up',
  'sysctl net/ipv4/ip_forward=1',
  'sysctl net/ipv4/conf/bt0/route_localnet=1',
  'iptables -w 5 -t nat -N BERTH-DNAT',
  'iptables -w 5 -t nat -N BERTH-POSTROUTING',
  'iptables -w 5 -t filter -N BERTH-FORWARD',
  'iptables -w 5 -t filter -N BERTH-ISOLATE',
  'iptables -w 5 -t filter -N BERTH-ISOLATE-2',
  'iptables -w 5 -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -m comment --comment berth -j BERTH-DNAT',
  'iptables -w 5 -t nat -I OUTPUT 1 -m addrtype --dst-type LOCAL -m comment --comment berth -j BERTH-DNAT',
  'iptables -w 5 -t nat -I POSTROUTING 1 -m comment --comment berth -j BERTH-POSTROUTING',
  'iptables -w 5 -t filter -I FORWARD 1 -m comment --comment berth -j BERTH-FORWARD',
  'iptables -w 5 -t filter -I BERTH-FORWARD 1 -m comment --comment berth -j BERTH-ISOLATE',
  // Isolation: leaving bt0 for another berth bridge goes to BERTH-ISOLATE-2, which drops what goes out of one.
  'iptables -w 5 -t filter -A BERTH-ISOLATE -i bt0 ! -o bt0 -m comment --comment berth:bt0 -j BERTH-ISOLATE-2',
  'iptables -w 5 -t filter -A BERTH-ISOLATE-2 -o bt0 -m comment --comment berth:bt0 -j DROP',
  'iptables -w 5 -t nat -A BERTH-POSTROUTING -s 10.99.0.0/24 ! -o bt0 -m comment --comment berth:bt0 -j MASQUERADE',
  'iptables -w 5 -t nat -A BERTH-POSTROUTING -s 127.0.0.0/8 -o bt0 -m comment --comment berth:bt0 -j MASQUERADE',
  'iptables -w 5 -t nat -A BERTH-POSTROUTING -s 10.99.0.0/24 -o bt0 -m conntrack --ctstate DNAT -m comment --comment berth:bt0 -j MASQUERADE',
  'iptables -w 5 -t filter -A BERTH-FORWARD -i bt0 -m comment --comment berth:bt0 -j ACCEPT',
  'iptables -w 5 -t filter -A BERTH-FORWARD -o bt0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment berth:bt0 -j ACCEPT',
];

const VETH_UP_A = [
  `ip netns add ${NS_A}`,
  `ip -n ${NS_A} link set lo up`,
  `ip link add ${VETH_A} type veth peer name eth0 netns ${NS_A}`,
  `ip link set dev ${VETH_A} master bt0`,
  `ip link set dev ${VETH_A} type bridge_slave hairpin on`,
  `ip link set dev ${VETH_A} up`,
  `ip -n ${NS_A} link set dev eth0 address 02:42:0a:63:00:02`,
  `ip -n ${NS_A} addr add 10.99.0.2/24 dev eth0`,
  `ip -n ${NS_A} link set dev eth0 up`,
  `ip -n ${NS_A} route add default via 10.99.0.1 dev eth0`,
];

const dnatA = (hostPort: number, containerPort: number) =>
  `-p tcp -m tcp --dport ${hostPort} -m comment --comment ${TAG_A} -j DNAT --to-destination 10.99.0.2:${containerPort}`;
const forwardA = (containerPort: number) =>
  `-d 10.99.0.2/32 -o bt0 -p tcp -m tcp --dport ${containerPort} -m comment --comment ${TAG_A} -j ACCEPT`;

async function allocations(): Promise<Record<string, string>> {
  return new Ipam({ stateDir, subnet: '10.99.0.0/24' }).allocations();
}

describe('bridge manager commands (fake host, no root)', () => {
  test('first bridge attach: bridge, sysctls, chains, veth into the netns, then the port rules, in that order', async () => {
    const att = await manager().attach(A, { mode: 'bridge', hostname: 'web', ports: [tcp(80, 0)] });
    assert.deepEqual(host.mutations(), [
      ...BRIDGE_UP,
      ...VETH_UP_A,
      `iptables -w 5 -t nat -A BERTH-DNAT ${dnatA(40000, 80)}`,
      `iptables -w 5 -t filter -A BERTH-FORWARD ${forwardA(80)}`,
    ]);
    assert.deepEqual(att.addresses, { bridge: '10.99.0.2' });
    assert.equal(att.netnsPath, `/run/netns/${NS_A}`);
    assert.deepEqual(att.ports, [tcp(80, 40000)]);
    assert.equal(host.sysctls.get('net/ipv4/ip_forward'), '1');
    assert.equal(host.links.get(VETH_A)?.master, 'bt0');
    assert.deepEqual(await allocations(), { '10.99.0.2': A });
    const resolv = await readFile(att.resolvConfPath ?? '', 'utf8');
    assert.match(resolv, /nameserver 10\.99\.0\.1/);
    assert.match(await readFile(att.hostsPath ?? '', 'utf8'), /10\.99\.0\.2\tweb/);
  });

  test('a second attach reuses the bridge: no bridge, sysctl or chain commands again', async () => {
    const mgr = manager();
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [] });
    const mark = host.commands.length;
    await mgr.attach(B, { mode: 'bridge', hostname: 'b', ports: [] });
    const changes = host.mutations(mark);
    assert.equal(changes.length, 10, changes.join('\n'));
    assert.deepEqual(changes[0], 'ip netns add berth-bbbbbbbbbbbb');
    assert.ok(changes.every((c) => !c.startsWith('sysctl') && !c.startsWith('iptables')));
  });

  test("detach deletes exactly this container's rules (by the spec read back), then the netns; the veth went with it", async () => {
    const mgr = manager();
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    await mgr.attach(B, { mode: 'bridge', hostname: 'b', ports: [tcp(80, 8081)] });
    const mark = host.commands.length;
    await mgr.detach(A);
    assert.deepEqual(host.mutations(mark), [
      `iptables -w 5 -t nat -D BERTH-DNAT ${dnatA(8080, 80)}`,
      `iptables -w 5 -t filter -D BERTH-FORWARD ${forwardA(80)}`,
      `ip netns del ${NS_A}`,
    ]);
    // The veth check after the netns delete is a query: the pair died with the netns.
    assert.ok(host.commands.slice(mark).includes(`ip link show dev ${VETH_A}`));
    assert.equal(host.links.has(VETH_A), false);
    assert.deepEqual(await allocations(), { '10.99.0.3': B });
    assert.equal(existsSync(path.join(stateDir, A)), false);
    // B's rules and the bridge's own stay.
    assert.equal(host.rules('nat', 'BERTH-DNAT').length, 1);
    assert.match(host.rules('nat', 'BERTH-DNAT')[0] ?? '', /--dport 8081 .*berth:bt0:bbbbbbbbbbbb/);
    assert.equal(host.rules('nat', 'BERTH-POSTROUTING').length, 3);
    // Again: nothing left to do, nothing changed.
    const again = host.commands.length;
    await mgr.detach(A);
    assert.deepEqual(host.mutations(again), []);
  });

  test('publish: udp and a host address make their own DNAT match; unpublished (exposed) ports make no rule', async () => {
    const att = await manager().attach(A, {
      mode: 'bridge',
      hostname: 'a',
      ports: [
        { containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1', protocol: 'udp' },
        { containerPort: 9000, hostPort: 0, hostIp: '', protocol: 'tcp' },
      ],
    });
    assert.deepEqual(host.rules('nat', 'BERTH-DNAT'), [
      `-p udp -m udp -d 127.0.0.1/32 --dport 5353 -m comment --comment ${TAG_A} -j DNAT --to-destination 10.99.0.2:53`,
    ]);
    assert.deepEqual(host.rules('filter', 'BERTH-FORWARD').slice(3), [
      `-d 10.99.0.2/32 -o bt0 -p udp -m udp --dport 53 -m comment --comment ${TAG_A} -j ACCEPT`,
    ]);
    assert.deepEqual(att.ports[1], { containerPort: 9000, hostPort: 0, hostIp: '', protocol: 'tcp' });
  });

  test('a host port another container publishes, or a host process holds, is refused before any host change', async () => {
    const mgr = manager();
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    const mark = host.commands.length;
    await assert.rejects(
      mgr.attach(B, { mode: 'bridge', hostname: 'b', ports: [tcp(80, 8080)] }),
      (e: unknown) =>
        isFailedPrecondition(e) && /8080.*already published by another container/.test(String(e)),
    );
    busy.add(9090);
    await assert.rejects(
      mgr.attach(B, { mode: 'bridge', hostname: 'b', ports: [tcp(80, 9090)] }),
      (e: unknown) => isFailedPrecondition(e) && /0\.0\.0\.0:9090\/tcp is in use on the host/.test(String(e)),
    );
    assert.deepEqual(host.mutations(mark), []);
    assert.deepEqual(await allocations(), { '10.99.0.2': A });
    assert.equal(existsSync(path.join(stateDir, B)), false);
  });

  test('a failing ip command rolls the attach back: error names the command and stderr; netns, address and record gone', async () => {
    host.failWhen(/-n berth-aaaaaaaaaaaa addr add/, 'RTNETLINK answers: File exists');
    const mgr = manager();
    await assert.rejects(
      mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] }),
      (e: unknown) =>
        errorCode(e) === 'Internal' &&
        String(e).includes(
          '`ip -n berth-aaaaaaaaaaaa addr add 10.99.0.2/24 dev eth0` failed (exit 2): RTNETLINK answers: File exists',
        ),
    );
    const failed = host.commands.indexOf(`ip -n ${NS_A} addr add 10.99.0.2/24 dev eth0`);
    assert.deepEqual(host.mutations(failed + 1), [`ip netns del ${NS_A}`]);
    assert.equal(host.netns.size, 0);
    assert.equal(host.links.has(VETH_A), false);
    assert.deepEqual(await allocations(), {});
    assert.equal(existsSync(path.join(stateDir, A)), false);
    // The bridge is shared: it stays, and the next attach works.
    assert.equal(host.links.get('bt0')?.kind, 'bridge');
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    assert.equal(host.netns.has(NS_A), true);
  });

  test('a failing rule rolls back the rules already added, the netns and the address', async () => {
    host.failWhen(/-A BERTH-FORWARD -d 10\.99\.0\.2\/32/, 'iptables: Resource temporarily unavailable.');
    await assert.rejects(
      manager().attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] }),
      (e: unknown) =>
        errorCode(e) === 'Internal' &&
        /-A BERTH-FORWARD .* failed \(exit 2\): iptables: Resource/.test(String(e)),
    );
    const failed = host.commands.findIndex((c) => c.includes('-A BERTH-FORWARD -d 10.99.0.2/32'));
    assert.deepEqual(host.mutations(failed + 1), [
      `iptables -w 5 -t nat -D BERTH-DNAT ${dnatA(8080, 80)}`,
      `ip netns del ${NS_A}`,
    ]);
    assert.deepEqual(host.rules('nat', 'BERTH-DNAT'), []);
    assert.equal(host.netns.size, 0);
    assert.deepEqual(await allocations(), {});
  });

  test('a failing sysctl is a FailedPrecondition naming the key; nothing of the container is left', async () => {
    host.failWhen(/^sysctl net\/ipv4\/ip_forward/, 'read-only file system');
    await assert.rejects(
      manager().attach(A, { mode: 'bridge', hostname: 'a', ports: [] }),
      (e: unknown) => e instanceof Error && /read-only file system/.test(e.message),
    );
    assert.equal(host.netns.size, 0);
    assert.deepEqual(await allocations(), {});
    assert.equal(existsSync(path.join(stateDir, A)), false);
  });

  test('an interface of the bridge name that is not a bridge is refused, never touched', async () => {
    await assert.rejects(
      manager({ bridge: 'lo' }).attach(A, { mode: 'bridge', hostname: 'a', ports: [] }),
      (e: unknown) => isFailedPrecondition(e) && /lo exists and is not a bridge/.test(String(e)),
    );
    // Only the rollback's netns delete (of a netns never made) ran; nothing touched lo.
    assert.deepEqual(host.mutations(), [`ip netns del ${NS_A}`]);
    assert.deepEqual(host.links.get('lo'), { kind: 'loopback', addrs: ['127.0.0.1/8'] });
  });

  test('a bridge created concurrently by someone else is used, not an error', async () => {
    // Another agent creates bt0 between the manager's look (missing) and its `link add` (File exists).
    const run = host.run.bind(host);
    host.run = async (cmd, args) => {
      if (args.join(' ') === 'link add name bt0 type bridge')
        host.links.set('bt0', { kind: 'bridge', addrs: [] });
      return run(cmd, args);
    };
    const att = await manager().attach(A, { mode: 'bridge', hostname: 'a', ports: [] });
    assert.deepEqual(att.addresses, { bridge: '10.99.0.2' });
    assert.ok(host.commands.includes('ip link show dev bt0'), 'the failed add is followed by a look');
  });

  test('none and host modes run no ip, iptables or sysctl command at all, attach or detach', async () => {
    const mgr = manager();
    const none = await mgr.attach(A, { mode: 'none', hostname: 'n', ports: [tcp(80, 8080)] });
    assert.deepEqual(none.ports, []);
    assert.deepEqual(none.addresses, {});
    assert.doesNotMatch(await readFile(none.resolvConfPath ?? '', 'utf8'), /nameserver/);
    const hostMode = await mgr.attach(B, { mode: 'host', hostname: 'h', ports: [tcp(80, 0)] });
    assert.deepEqual(hostMode.ports, [tcp(80, 80)]);
    assert.match(await readFile(hostMode.resolvConfPath ?? '', 'utf8'), /nameserver 192\.0\.2\.53/);
    await mgr.detach(A);
    await mgr.detach(B);
    assert.deepEqual(host.commands, []);
  });

  test("restore on a new instance frees what gone containers left and puts back the live one's flushed rules", async () => {
    const old = manager();
    await old.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    await old.attach(B, { mode: 'bridge', hostname: 'b', ports: [tcp(80, 8081)] });
    // Leaks a crash can leave: a veth without a record, an address without an owner.
    host.links.set('vbdeadbeef0000', { kind: 'veth', master: 'bt0', addrs: [] });
    await new Ipam({ stateDir, subnet: '10.99.0.0/24' }).allocate('ghost');
    // And a firewall reload while the agent was down.
    host.flushBerth();

    const mark = host.commands.length;
    await manager().restore([A]);
    const changes = host.mutations(mark);
    assert.ok(changes.includes('ip netns del berth-bbbbbbbbbbbb'), changes.join('\n'));
    assert.ok(changes.includes('ip link del dev vbdeadbeef0000'));
    assert.equal(host.netns.has(NS_A), true);
    assert.equal(host.links.has(VETH_A), true);
    assert.deepEqual(await allocations(), { '10.99.0.2': A });
    assert.equal(existsSync(path.join(stateDir, B)), false);
    // Chains, jumps, the bridge's rules and A's port rules are back; B's are not.
    assert.deepEqual(host.rules('nat', 'BERTH-DNAT'), [dnatA(8080, 80)]);
    assert.ok(host.rules('filter', 'BERTH-FORWARD').includes(forwardA(80)));
    assert.equal(host.rules('nat', 'BERTH-POSTROUTING').length, 3);
    assert.ok(host.rules('nat', 'PREROUTING').some((r) => r.endsWith('-j BERTH-DNAT')));
    assert.ok(host.rules('filter', 'FORWARD').some((r) => r.endsWith('-j BERTH-FORWARD')));
  });

  test('restore with nothing live sets up nothing and deletes the rules of gone containers', async () => {
    const old = manager();
    await old.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    await manager().restore([]);
    assert.deepEqual(host.rules('nat', 'BERTH-DNAT'), []);
    assert.equal(host.netns.size, 0);
    assert.deepEqual(await allocations(), {});
  });

  test('destroy removes the containers, the bridge, the rules, the jumps and the chains', async () => {
    const mgr = manager();
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [tcp(80, 8080)] });
    await mgr.destroy();
    assert.equal(host.links.has('bt0'), false);
    assert.equal(host.netns.size, 0);
    for (const t of ['nat', 'filter'] as const) {
      assert.deepEqual(
        [...host.tables[t].keys()].filter((c) => c.startsWith('BERTH-')),
        [],
      );
      for (const [chain, rules] of host.tables[t]) assert.deepEqual(rules, [], `${t} ${chain}`);
    }
    assert.deepEqual(await allocations(), {});
    // The bridge can come back after a destroy (its "ready" state was forgotten).
    await mgr.attach(A, { mode: 'bridge', hostname: 'a', ports: [] });
    assert.equal(host.links.get('bt0')?.kind, 'bridge');
  });
});
