// Over 400 lines: one real bridge shared by every test in order (attach, publish, restore, destroy), so they stay in one file.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { silentLogger } from '../../../runtime/base/log.js';
import { BridgeNetworkManager } from '../../../runtime/network/bridge.js';

const run = promisify(execFile);

function newId(): string {
  return randomBytes(32).toString('hex');
}

async function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 15_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function allBerthRules(): Promise<string> {
  const nat = await sh('iptables', ['-w', '5', '-t', 'nat', '-S']);
  const filter = await sh('iptables', ['-w', '5', '-t', 'filter', '-S']);
  return nat.out + filter.out;
}

function waitListening(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server in netns did not start within 10s')), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server in netns exited with ${code}`));
    });
  });
}

/** A TCP server inside a netns that answers every connection with `text`. */
async function startServer(netns: string, port: number, text: string): Promise<ChildProcess> {
  const script = `require('net').createServer((s)=>{s.end(${JSON.stringify(text)})}).listen(${port},'0.0.0.0',()=>console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitListening(child);
  return child;
}

/** A UDP server inside a netns that answers each datagram with `echo:<datagram>`. */
async function startUdpEcho(netns: string, port: number): Promise<ChildProcess> {
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(${port},'0.0.0.0',()=>console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitListening(child);
  return child;
}

function udpRoundTrip(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no udp answer from ${host}:${port}`));
    }, 5000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m.toString());
    });
    sock.send(text, port, host);
  });
}

function fetchText(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const sock = net.connect({ host, port, timeout: 5000 });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      data += d;
    });
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => {
      sock.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    });
    sock.on('error', reject);
  });
}

describe('BridgeNetworkManager on a real bridge', () => {
  const bridge = `bt${randomBytes(2).toString('hex')}`;
  const subnet = `10.213.${1 + Math.floor(Math.random() * 253)}.0/24`;
  const gateway = subnet.replace(/\.0\/24$/, '.1');
  let stateDir = '';
  let mgr: BridgeNetworkManager;
  const servers: ChildProcess[] = [];
  const a = newId();
  const b = newId();
  let addrA = '';
  let addrB = '';
  let portA = 0;

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'berth-net-'));
    mgr = new BridgeNetworkManager({ stateDir, bridge, subnet, logger: silentLogger() });
  });

  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await mgr.destroy();
    await rm(stateDir, { recursive: true, force: true });
  });

  test('attach gives each container its own netns, an address on the subnet and resolved ports', async () => {
    const [ra, rb] = await Promise.all([
      mgr.attach(a, {
        mode: 'bridge',
        hostname: 'alpha',
        ports: [
          { containerPort: 8080, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
          { containerPort: 9000, protocol: 'tcp', hostIp: '', hostPort: 0 },
        ],
        extraHosts: ['db:10.1.2.3'],
      }),
      mgr.attach(b, { mode: 'bridge', hostname: 'beta', ports: [] }),
    ]);
    addrA = ra.addresses.bridge ?? '';
    addrB = rb.addresses.bridge ?? '';
    assert.match(addrA, /^10\.213\.\d+\.\d+$/);
    assert.match(addrB, /^10\.213\.\d+\.\d+$/);
    assert.notEqual(addrA, addrB);
    assert.notEqual(addrA, gateway);
    assert.equal(ra.netnsPath, `/run/netns/berth-${a.slice(0, 12)}`);
    assert.ok(ra.netnsPath && existsSync(ra.netnsPath));
    const published = ra.ports.find((p) => p.containerPort === 8080);
    assert.ok(published && published.hostPort > 0, 'hostPort 0 is resolved to a free port');
    portA = published.hostPort;
    assert.deepEqual(
      ra.ports.find((p) => p.containerPort === 9000),
      { containerPort: 9000, protocol: 'tcp', hostIp: '', hostPort: 0 },
    );

    const hosts = await readFile(ra.hostsPath ?? '', 'utf8');
    assert.match(hosts, /127\.0\.0\.1\s+localhost/);
    assert.match(hosts, new RegExp(`${addrA.replace(/\./g, '\\.')}\\s+alpha`));
    assert.match(hosts, /10\.1\.2\.3\s+db/);
    const resolv = await readFile(ra.resolvConfPath ?? '', 'utf8');
    assert.match(resolv, new RegExp(`nameserver ${gateway}`));
    assert.equal((await readFile(path.join(stateDir, a, 'hostname'), 'utf8')).trim(), 'alpha');

    const links = await sh('ip', ['-n', `berth-${a.slice(0, 12)}`, '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(links.out, new RegExp(`inet ${addrA.replace(/\./g, '\\.')}/24`));
    const route = await sh('ip', ['-n', `berth-${a.slice(0, 12)}`, 'route', 'show', 'default']);
    assert.match(route.out, new RegExp(`default via ${gateway.replace(/\./g, '\\.')}`));
  });

  test('containers reach each other and the gateway', async () => {
    const nsA = `berth-${a.slice(0, 12)}`;
    const toB = await sh('ip', ['netns', 'exec', nsA, 'busybox', 'ping', '-c', '1', '-W', '2', addrB]);
    assert.equal(toB.code, 0, toB.out);
    const toGw = await sh('ip', ['netns', 'exec', nsA, 'busybox', 'ping', '-c', '1', '-W', '2', gateway]);
    assert.equal(toGw.code, 0, toGw.out);
    const fromHost = await sh('busybox', ['ping', '-c', '1', '-W', '2', addrB]);
    assert.equal(fromHost.code, 0, fromHost.out);
  });

  test('a published port reaches the server in the container via 127.0.0.1 and via the gateway', async () => {
    servers.push(await startServer(`berth-${a.slice(0, 12)}`, 8080, 'hello from alpha'));
    assert.equal(await fetchText('127.0.0.1', portA), 'hello from alpha');
    assert.equal(await fetchText(gateway, portA), 'hello from alpha');
    // From the other container through the host address (hairpin NAT between containers).
    const fromB = await sh('ip', [
      'netns',
      'exec',
      `berth-${b.slice(0, 12)}`,
      'busybox',
      'nc',
      '-w',
      '3',
      gateway,
      String(portA),
    ]);
    assert.match(fromB.out, /hello from alpha/);
  });

  test('an explicit host port that is already published is refused before anything changes', async () => {
    const c = newId();
    await assert.rejects(
      mgr.attach(c, {
        mode: 'bridge',
        hostname: 'gamma',
        ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: portA }],
      }),
      (err: Error & { code?: string }) =>
        err.code === 'FailedPrecondition' && /already published/.test(err.message),
    );
    // A host process on the port is found too (DNAT would silently shadow it).
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        mgr.attach(c, {
          mode: 'bridge',
          hostname: 'gamma',
          ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: busyPort }],
        }),
        (err: Error & { code?: string }) =>
          err.code === 'FailedPrecondition' && /in use on the host/.test(err.message),
      );
    } finally {
      busy.close();
    }
    assert.ok(!existsSync(`/run/netns/berth-${c.slice(0, 12)}`));
    assert.ok(!existsSync(path.join(stateDir, c)));
    const ipam = JSON.parse(await readFile(path.join(stateDir, 'ipam.json'), 'utf8')) as {
      allocations: Record<string, string>;
    };
    assert.ok(!Object.values(ipam.allocations).includes(c));
  });

  test('detach removes the netns, the veth, the rules and the address', async () => {
    const short = a.slice(0, 12);
    assert.match(await allBerthRules(), new RegExp(`berth:${bridge}:${short}`));
    await mgr.detach(a);
    assert.ok(!existsSync(`/run/netns/berth-${short}`));
    const veth = await sh('ip', ['link', 'show', 'dev', `vb${short}`]);
    assert.notEqual(veth.code, 0);
    assert.doesNotMatch(await allBerthRules(), new RegExp(`berth:${bridge}:${short}`));
    const ipam = JSON.parse(await readFile(path.join(stateDir, 'ipam.json'), 'utf8')) as {
      allocations: Record<string, string>;
    };
    assert.equal(ipam.allocations[addrA], undefined);
    assert.equal(ipam.allocations[addrB], b);
    await assert.rejects(fetchText('127.0.0.1', portA));
    await mgr.detach(a); // idempotent
  });

  test('restore on a new instance frees what containers that are gone left behind and keeps live ones', async () => {
    const leaked = newId();
    const r = await mgr.attach(leaked, {
      mode: 'bridge',
      hostname: 'leaky',
      ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }],
    });
    const leakedShort = leaked.slice(0, 12);
    assert.match(await allBerthRules(), new RegExp(`berth:${bridge}:${leakedShort}`));

    const restarted = new BridgeNetworkManager({ stateDir, bridge, subnet, logger: silentLogger() });
    await restarted.restore([b]);
    assert.ok(!existsSync(`/run/netns/berth-${leakedShort}`));
    assert.notEqual((await sh('ip', ['link', 'show', 'dev', `vb${leakedShort}`])).code, 0);
    assert.doesNotMatch(await allBerthRules(), new RegExp(`berth:${bridge}:${leakedShort}`));
    const ipam = JSON.parse(await readFile(path.join(stateDir, 'ipam.json'), 'utf8')) as {
      allocations: Record<string, string>;
    };
    assert.equal(ipam.allocations[r.addresses.bridge ?? ''], undefined);
    assert.equal(ipam.allocations[addrB], b);
    // The live container still works.
    const ping = await sh('ip', [
      'netns',
      'exec',
      `berth-${b.slice(0, 12)}`,
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '2',
      gateway,
    ]);
    assert.equal(ping.code, 0, ping.out);
  });

  test('mode none leaves the netns to the OCI runtime and writes the files; mode host has no netns and the host files', async () => {
    const n = newId();
    const rn = await mgr.attach(n, { mode: 'none', hostname: 'lonely', ports: [] });
    assert.deepEqual(rn.addresses, {});
    assert.deepEqual(rn.ports, []);
    // The spec asks for a fresh network namespace (runc brings its lo up): no named one on the host.
    assert.equal(rn.netnsPath, undefined);
    assert.ok(!existsSync(`/run/netns/berth-${n.slice(0, 12)}`));
    assert.match(await readFile(rn.hostsPath ?? '', 'utf8'), /lonely/);
    assert.doesNotMatch(await readFile(rn.resolvConfPath ?? '', 'utf8'), /nameserver/);

    const h = newId();
    const rh = await mgr.attach(h, {
      mode: 'host',
      hostname: 'hosty',
      ports: [{ containerPort: 8081, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 }],
      extraHosts: ['api:10.9.9.9'],
    });
    assert.equal(rh.netnsPath, undefined);
    assert.deepEqual(rh.ports, [{ containerPort: 8081, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8081 }]);
    const hostHosts = await readFile('/etc/hosts', 'utf8');
    const hosts = await readFile(rh.hostsPath ?? '', 'utf8');
    assert.ok(hosts.startsWith(hostHosts.trimEnd()));
    assert.match(hosts, /10\.9\.9\.9\s+api/);
    assert.equal(await readFile(rh.resolvConfPath ?? '', 'utf8'), await readFile('/etc/resolv.conf', 'utf8'));

    await mgr.detach(n);
    await mgr.detach(h);
    assert.ok(!existsSync(path.join(stateDir, n)));
    assert.ok(!existsSync(path.join(stateDir, h)));
  });

  test('an unknown mode is an InvalidArgument naming the field', async () => {
    await assert.rejects(
      mgr.attach(newId(), { mode: 'overlay', hostname: 'x', ports: [] }),
      (err: Error & { code?: string; field?: string }) =>
        err.code === 'InvalidArgument' && err.field === 'network',
    );
  });

  test('udp ports publish too, and restore puts back rules a firewall reload removed', async () => {
    const d = newId();
    const ns = `berth-${d.slice(0, 12)}`;
    const r = await mgr.attach(d, {
      mode: 'bridge',
      hostname: 'delta',
      ports: [
        { containerPort: 7000, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
        { containerPort: 5353, protocol: 'udp', hostIp: '0.0.0.0', hostPort: 0 },
      ],
    });
    const tcpPort = r.ports.find((p) => p.protocol === 'tcp')?.hostPort ?? 0;
    const udpPort = r.ports.find((p) => p.protocol === 'udp')?.hostPort ?? 0;
    servers.push(await startServer(ns, 7000, 'hello from delta'));
    servers.push(await startUdpEcho(ns, 5353));
    assert.equal(await fetchText('127.0.0.1', tcpPort), 'hello from delta');
    assert.equal(await udpRoundTrip('127.0.0.1', udpPort, 'ping'), 'echo:ping');

    // Remove this container's DNAT rules behind berth's back, as `iptables -F` by a firewall would.
    const tag = `berth:${bridge}:${d.slice(0, 12)}`;
    const dnat = (await sh('iptables', ['-w', '5', '-t', 'nat', '-S', 'BERTH-DNAT'])).out
      .split('\n')
      .filter((l) => l.includes(tag));
    assert.equal(dnat.length, 2);
    for (const line of dnat) {
      const spec = line.replace(/^-A /, '').replace(/"/g, '').split(' ');
      const del = await sh('iptables', ['-w', '5', '-t', 'nat', '-D', ...spec]);
      assert.equal(del.code, 0, del.out);
    }
    await assert.rejects(fetchText('127.0.0.1', tcpPort));

    await new BridgeNetworkManager({ stateDir, bridge, subnet, logger: silentLogger() }).restore([b, d]);
    assert.equal(await fetchText('127.0.0.1', tcpPort), 'hello from delta');
    assert.equal(await udpRoundTrip('127.0.0.1', udpPort, 'again'), 'echo:again');
    await mgr.detach(d);
  });

  test('an existing interface that is not a bridge is refused, not reused', async () => {
    const other = new BridgeNetworkManager({
      stateDir: path.join(stateDir, 'other'),
      bridge: 'lo',
      subnet: '10.214.0.0/24',
      logger: silentLogger(),
    });
    await assert.rejects(
      other.attach(newId(), { mode: 'bridge', hostname: 'x', ports: [] }),
      (err: Error & { code?: string }) =>
        err.code === 'FailedPrecondition' && /lo exists and is not a bridge/.test(err.message),
    );
    assert.equal((await sh('ip', ['link', 'show', 'dev', 'lo'])).code, 0);
  });

  test('destroy removes the bridge and every rule of this bridge', async () => {
    await mgr.destroy();
    assert.notEqual((await sh('ip', ['link', 'show', 'dev', bridge])).code, 0);
    assert.doesNotMatch(await allBerthRules(), new RegExp(`berth:${bridge}`));
    assert.ok(!existsSync(`/run/netns/berth-${b.slice(0, 12)}`));
  });
});

describe("a bridge container's resolv.conf", () => {
  const bridge = `bt${randomBytes(2).toString('hex')}`;
  const subnet = `10.213.${1 + Math.floor(Math.random() * 253)}.0/24`;
  const gateway = subnet.replace(/\.0\/24$/, '.1');
  let dir = '';
  const managers: BridgeNetworkManager[] = [];
  const make = (opts: { dnsServers?: string[] | 'host'; dnsSearch?: string[] }) => {
    const m = new BridgeNetworkManager({
      stateDir: path.join(dir, `state-${managers.length}`),
      bridge,
      subnet,
      logger: silentLogger(),
      hostResolvConf: path.join(dir, 'host-resolv.conf'),
      ...opts,
    });
    managers.push(m);
    return m;
  };
  const resolvOf = async (m: BridgeNetworkManager) => {
    const id = newId();
    const r = await m.attach(id, { mode: 'bridge', hostname: 'x', ports: [] });
    try {
      return await readFile(r.resolvConfPath ?? '', 'utf8');
    } finally {
      await m.detach(id);
    }
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-net-resolv-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      path.join(dir, 'host-resolv.conf'),
      'nameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch corp.example\noptions edns0\n',
    );
  });

  after(async () => {
    // The managers share one bridge; the last one takes it and its rules down.
    await managers.at(-1)?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test("points at the embedded DNS on the gateway, its domain searched before the host's", async () => {
    const text = await resolvOf(make({ dnsSearch: ['consul.'] }));
    assert.deepEqual(
      text.split('\n').filter((l) => l && !l.startsWith('#')),
      ['search consul corp.example', `nameserver ${gateway}`, 'options edns0'],
    );
  });

  test("with dnsServers 'host': the host's resolvers less the loopback ones, and the host's search", async () => {
    const text = await resolvOf(make({ dnsServers: 'host' }));
    assert.deepEqual(
      text.split('\n').filter((l) => l && !l.startsWith('#')),
      ['search corp.example', 'nameserver 192.0.2.53', 'options edns0'],
    );
  });
});
