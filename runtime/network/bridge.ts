import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isLoopbackHost } from '../base/address.js';
import { FailedPreconditionError, InternalError, InvalidArgumentError, messageOf } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { NetworkAttachment, NetworkPort } from '../containers/ports.js';
import type { PortMapping } from '../types.js';
import { parseSubnet, type Subnet } from './cidr.js';
import { ChildProcessRunner, type CommandRunner } from './exec.js';
import { Mutex, writeFileAtomic } from './files.js';
import { parseExtraHosts, parseResolvConf, renderHosts, renderResolvConf } from './hostfiles.js';
import { probeHostPort } from './hostports.js';
import { IpTool } from './ip.js';
import { Ipam } from './ipam.js';
import { Iptables } from './iptables.js';
import { formatPort, isPublished, validatePortMappings } from './portspec.js';
import {
  type AttachmentRecord,
  type BridgeNetworkOptions,
  NETWORK_MODES,
  type NetworkMode,
} from './types.js';

/** berth's own chains; shared by every bridge on the host, each rule tagged with its bridge (and container). */
export const CHAINS = {
  postrouting: 'BERTH-POSTROUTING',
  dnat: 'BERTH-DNAT',
  forward: 'BERTH-FORWARD',
} as const;

const JUMP_COMMENT = 'berth';
const NETNS_DIR = '/run/netns';
const NETNS_PREFIX = 'berth-';
const VETH_PREFIX = 'vb';
const MAX_PORT_PICKS = 50;

/** Traffic to a local address (from outside and from the host itself) goes through the port DNAT chain. */
const LOCAL_TO_DNAT = [
  '-m',
  'addrtype',
  '--dst-type',
  'LOCAL',
  '-m',
  'comment',
  '--comment',
  JUMP_COMMENT,
  '-j',
  CHAINS.dnat,
];

/** The jumps from the builtin chains into berth's chains, each added once. */
const JUMPS: Array<{ table: 'nat' | 'filter'; chain: string; spec: string[] }> = [
  {
    table: 'nat',
    chain: 'PREROUTING',
    spec: LOCAL_TO_DNAT,
  },
  {
    table: 'nat',
    chain: 'OUTPUT',
    spec: LOCAL_TO_DNAT,
  },
  {
    table: 'nat',
    chain: 'POSTROUTING',
    spec: ['-m', 'comment', '--comment', JUMP_COMMENT, '-j', CHAINS.postrouting],
  },
  {
    table: 'filter',
    chain: 'FORWARD',
    spec: ['-m', 'comment', '--comment', JUMP_COMMENT, '-j', CHAINS.forward],
  },
];

const CHAIN_TABLES: Array<{ table: 'nat' | 'filter'; chain: string }> = [
  { table: 'nat', chain: CHAINS.dnat },
  { table: 'nat', chain: CHAINS.postrouting },
  { table: 'filter', chain: CHAINS.forward },
];

/**
 * Container networking over iproute2 and iptables: `none` (own netns, lo
 * only), `host` (the host's stack) and `bridge` (veth into a Linux bridge,
 * IPAM, NAT and published ports).
 *
 * Lifecycle: `attach` before the container is created (the OCI spec joins
 * the named netns by path), `detach` after it is gone, `restore` once on agent
 * start. Named netns under /run/netns, the bridge, veths and iptables rules
 * outlive the agent, so a restart does not disturb running containers.
 * `destroy` undoes every host change this instance's bridge made.
 */
export class BridgeNetworkManager implements NetworkPort {
  readonly bridge: string;
  readonly subnet: Subnet;
  readonly stateDir: string;
  private readonly dnsServers: string[] | 'host';
  private readonly dnsSearch: string[];
  private readonly log: Logger;
  private readonly ip: IpTool;
  private readonly ipt: Iptables;
  private readonly ipam: Ipam;
  private readonly hostResolvConf: string;
  private readonly hostHosts: string;
  /** One host-state change at a time: IPAM, port picks and rule sets must not interleave. */
  private readonly lock = new Mutex();
  private bridgeReady = false;

  constructor(opts: BridgeNetworkOptions) {
    this.bridge = opts.bridge ?? 'berth0';
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(this.bridge))
      throw new InvalidArgumentError(
        `bridge: "${this.bridge}" is not an interface name (1-15 of A-Z a-z 0-9 _ . -)`,
        {
          field: 'bridge',
        },
      );
    this.subnet = parseSubnet(opts.subnet ?? '10.88.0.0/16');
    this.stateDir = opts.stateDir;
    const servers = opts.dnsServers ?? [this.subnet.gateway];
    this.dnsServers = servers === 'host' ? servers : [...servers];
    this.dnsSearch = (opts.dnsSearch ?? []).map((d) => d.replace(/\.$/, '')).filter((d) => d !== '');
    this.log = opts.logger;
    const runner: CommandRunner = opts.runner ?? new ChildProcessRunner();
    this.ip = new IpTool(runner);
    this.ipt = new Iptables(runner, opts.iptables ?? 'iptables');
    this.ipam = new Ipam({ stateDir: opts.stateDir, subnet: this.subnet.cidr });
    this.hostResolvConf = opts.hostResolvConf ?? '/etc/resolv.conf';
    this.hostHosts = opts.hostHosts ?? '/etc/hosts';
  }

  /** The gateway address: the bridge's own address, where the embedded DNS listens. */
  get gateway(): string {
    return this.subnet.gateway;
  }

  netnsName(id: string): string {
    return `${NETNS_PREFIX}${short(id)}`;
  }

  vethName(id: string): string {
    return `${VETH_PREFIX}${short(id)}`;
  }

  async attach(
    id: string,
    req: { mode: string; hostname: string; ports: PortMapping[]; extraHosts?: string[] },
  ): Promise<NetworkAttachment> {
    checkId(id);
    const mode = parseMode(req.mode);
    const ports = validatePortMappings(req.ports ?? []);
    const extraHosts = parseExtraHosts(req.extraHosts);
    const hostname = req.hostname || short(id);
    return this.lock.run(async () => {
      const existing = await this.readRecord(id);
      if (existing)
        throw new FailedPreconditionError(
          `network: container ${short(id)} is already attached (${existing.mode})`,
        );
      await this.checkShortIdFree(id);
      const dir = this.containerDir(id);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        switch (mode) {
          case 'host':
            return await this.attachHost(id, hostname, ports, extraHosts);
          case 'none':
            return await this.attachNone(id, hostname, ports, extraHosts);
          default:
            return await this.attachBridge(id, hostname, ports, extraHosts);
        }
      } catch (err) {
        await this.teardown(id).catch((e: unknown) =>
          this.log.warn({ err: e, id }, 'network: cleanup after a failed attach failed'),
        );
        throw err;
      }
    });
  }

  detach(id: string): Promise<void> {
    checkId(id);
    return this.lock.run(() => this.teardown(id));
  }

  restore(liveIds: string[]): Promise<void> {
    return this.lock.run(async () => {
      const live = new Set(liveIds);
      const liveShort = new Set(liveIds.map(short));
      const records = await this.listRecords();
      let liveBridge = 0;
      for (const rec of records) {
        if (live.has(rec.id)) {
          if (rec.mode === 'bridge' && rec.bridge === this.bridge) liveBridge++;
          continue;
        }
        this.log.info(
          { id: rec.id, mode: rec.mode },
          'network: freeing the attachment of a container that is gone',
        );
        await this.teardown(rec.id);
      }
      // A crash between IPAM and the record, or a lost state dir, can leave owners without records.
      for (const f of await this.ipam.retainOnly(live))
        this.log.info({ ip: f.ip, id: f.id }, 'network: freed a leaked address');
      for (const link of await this.ip.linksOf(this.bridge)) {
        if (link.startsWith(VETH_PREFIX) && !liveShort.has(link.slice(VETH_PREFIX.length))) {
          this.log.info({ link }, 'network: deleting a leaked veth');
          await this.ip.runDelete(['link', 'del', 'dev', link]);
        }
      }
      const tag = `berth:${this.bridge}:`;
      for (const { table, chain } of CHAIN_TABLES) {
        await this.ipt.deleteRulesByComment(
          table,
          chain,
          (c) => c.startsWith(tag) && !liveShort.has(c.slice(tag.length)),
        );
      }
      // Rules may have been flushed by a firewall reload while the agent was down: put back what live containers need.
      if (liveBridge > 0) {
        await this.ensureBridge();
        for (const rec of records) {
          if (live.has(rec.id) && rec.mode === 'bridge' && rec.bridge === this.bridge && rec.address)
            await this.addPortRules(rec.id, rec.address, rec.ports);
        }
      }
    });
  }

  /**
   * Removes this bridge, every container attachment recorded in the state
   * dir, every rule tagged with this bridge, and berth's chains and jumps once
   * no bridge uses them any more. ip_forward is left on: other software may
   * rely on it.
   */
  destroy(): Promise<void> {
    return this.lock.run(async () => {
      for (const rec of await this.listRecords()) await this.teardown(rec.id);
      await this.ipam.retainOnly(new Set());
      const tag = `berth:${this.bridge}`;
      for (const { table, chain } of CHAIN_TABLES) {
        await this.ipt.deleteRulesByComment(table, chain, (c) => c === tag || c.startsWith(`${tag}:`));
      }
      if ((await this.ip.linkKind(this.bridge)) === 'bridge')
        await this.ip.runDelete(['link', 'del', 'dev', this.bridge]);
      this.bridgeReady = false;
      await this.removeChainsIfUnused();
    });
  }

  // ---- modes ----------------------------------------------------------------

  private async attachHost(
    id: string,
    hostname: string,
    ports: PortMapping[],
    extraHosts: Array<[string, string]>,
  ): Promise<NetworkAttachment> {
    await this.writeRecord({ id, mode: 'host', bridge: this.bridge, ports: [] });
    const dir = this.containerDir(id);
    const hosts = await readOr(this.hostHosts, '127.0.0.1\tlocalhost\n');
    const extra = extraHosts.map(([n, ip]) => `${ip}\t${n}\n`).join('');
    await writeFileAtomic(path.join(dir, 'hosts'), `${hosts.endsWith('\n') ? hosts : `${hosts}\n`}${extra}`);
    await writeFileAtomic(path.join(dir, 'resolv.conf'), await readOr(this.hostResolvConf, ''));
    await writeFileAtomic(path.join(dir, 'hostname'), `${hostname}\n`);
    // The container shares the host's ports: what it exposes is reachable there as is.
    const resolved = ports
      .filter(isPublished)
      .map((p) => ({ ...p, hostIp: '0.0.0.0', hostPort: p.containerPort }));
    if (ports.some((p) => isPublished(p) && p.hostPort !== 0 && p.hostPort !== p.containerPort))
      this.log.warn(
        { id },
        'network: published ports are ignored in host mode; the container uses host ports directly',
      );
    await this.writeRecord({ id, mode: 'host', bridge: this.bridge, ports: resolved });
    return {
      addresses: {},
      hostsPath: path.join(dir, 'hosts'),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      ports: resolved,
    };
  }

  private async attachNone(
    id: string,
    hostname: string,
    ports: PortMapping[],
    extraHosts: Array<[string, string]>,
  ): Promise<NetworkAttachment> {
    // No named netns: the spec asks the OCI runtime for a fresh network namespace, and runc brings its
    // loopback up itself. A named one would cost two `ip` runs here and one at detach, and the
    // container would never join it.
    await this.writeRecord({ id, mode: 'none', bridge: this.bridge, ports: [] });
    if (ports.some(isPublished)) this.log.warn({ id }, 'network: published ports are ignored in mode none');
    const files = await this.writeFiles(id, hostname, undefined, extraHosts);
    return { addresses: {}, ...files, ports: [] };
  }

  private async attachBridge(
    id: string,
    hostname: string,
    ports: PortMapping[],
    extraHosts: Array<[string, string]>,
  ): Promise<NetworkAttachment> {
    const netns = this.netnsName(id);
    const veth = this.vethName(id);
    // Port conflicts are the likeliest user error: find them before touching the host.
    const resolved = await this.resolveHostPorts(id, ports);
    const rec: AttachmentRecord = { id, mode: 'bridge', bridge: this.bridge, netns, veth, ports: resolved };
    await this.writeRecord(rec);
    await this.ensureBridge();
    const address = await this.ipam.allocate(id);
    rec.address = address;
    await this.writeRecord(rec);

    await this.ip.run(['netns', 'add', netns]);
    await this.ip.run(['-n', netns, 'link', 'set', 'lo', 'up']);
    // Creating the peer directly inside the netns as eth0 avoids a name clash with the host's own eth0.
    await this.ip.run(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await this.ip.run(['link', 'set', 'dev', veth, 'master', this.bridge]);
    // Hairpin lets a container reach itself through its own published port.
    await this.ip.run(['link', 'set', 'dev', veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    await this.ip.run(['link', 'set', 'dev', veth, 'up']);
    // A MAC derived from the address (as Docker does) keeps neighbours' ARP caches right when an address is reused.
    await this.ip.run(['-n', netns, 'link', 'set', 'dev', 'eth0', 'address', macFor(address)]);
    await this.ip.run(['-n', netns, 'addr', 'add', `${address}/${this.subnet.prefix}`, 'dev', 'eth0']);
    await this.ip.run(['-n', netns, 'link', 'set', 'dev', 'eth0', 'up']);
    await this.ip.run(['-n', netns, 'route', 'add', 'default', 'via', this.subnet.gateway, 'dev', 'eth0']);

    await this.addPortRules(id, address, rec.ports);
    const files = await this.writeFiles(id, hostname, address, extraHosts);
    this.log.info({ id, address, ports: rec.ports.map(formatPort) }, 'network: attached to bridge');
    return {
      netnsPath: path.join(NETNS_DIR, netns),
      addresses: { bridge: address },
      ...files,
      ports: rec.ports,
    };
  }

  // ---- bridge and chains ----------------------------------------------------

  /** Creates the bridge now (the agent does at start, so its DNS can listen on the gateway); returns the gateway address. */
  async up(): Promise<string> {
    await this.lock.run(() => this.ensureBridge());
    return this.subnet.gateway;
  }

  private async ensureBridge(): Promise<void> {
    const kind = await this.ip.linkKind(this.bridge);
    if (kind === 'other')
      throw new FailedPreconditionError(
        `bridge: interface ${this.bridge} exists and is not a bridge; configure another bridge name`,
      );
    if (this.bridgeReady && kind === 'bridge') return;
    if (kind === 'missing') {
      await this.ip
        .run(['link', 'add', 'name', this.bridge, 'type', 'bridge'])
        .catch(async (err: unknown) => {
          // Another agent (or test) may have created it concurrently.
          if (!(await this.ip.linkExists(this.bridge))) throw err;
        });
      this.log.info({ bridge: this.bridge, subnet: this.subnet.cidr }, 'network: created bridge');
    }
    // Without a set MAC a bridge takes the lowest of its ports' MACs and changes it as veths come and go,
    // leaving containers with a stale ARP entry for the gateway.
    await this.ip.run(['link', 'set', 'dev', this.bridge, 'address', macFor(this.subnet.gateway)]);
    const want = `${this.subnet.gateway}/${this.subnet.prefix}`;
    const have = await this.ip.addressesOf(this.bridge);
    if (!have.includes(want)) await this.ip.run(['addr', 'add', want, 'dev', this.bridge]);
    await this.ip.run(['link', 'set', 'dev', this.bridge, 'up']);
    await writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
    // Lets DNAT send 127.0.0.1-sourced packets out of the bridge (published ports on localhost).
    await writeSysctl(`/proc/sys/net/ipv4/conf/${this.bridge}/route_localnet`, '1');
    await this.ensureChains();
    this.bridgeReady = true;
  }

  private async ensureChains(): Promise<void> {
    for (const { table, chain } of CHAIN_TABLES) await this.ipt.ensureChain(table, chain);
    for (const j of JUMPS) await this.ipt.ensureRule(j.table, j.chain, j.spec, { insert: true });
    const c = ['-m', 'comment', '--comment', `berth:${this.bridge}`];
    const cidr = this.subnet.cidr;
    const br = this.bridge;
    // Outbound NAT for containers.
    await this.ipt.ensureRule('nat', CHAINS.postrouting, [
      '-s',
      cidr,
      '!',
      '-o',
      br,
      ...c,
      '-j',
      'MASQUERADE',
    ]);
    // 127.0.0.1:hostPort → container: replies must come back to the host, not to the container's own loopback.
    await this.ipt.ensureRule('nat', CHAINS.postrouting, [
      '-s',
      '127.0.0.0/8',
      '-o',
      br,
      ...c,
      '-j',
      'MASQUERADE',
    ]);
    // Container → host address:published port → another container on this bridge: replies must go back via the host.
    await this.ipt.ensureRule('nat', CHAINS.postrouting, [
      '-s',
      cidr,
      '-o',
      br,
      '-m',
      'conntrack',
      '--ctstate',
      'DNAT',
      ...c,
      '-j',
      'MASQUERADE',
    ]);
    await this.ipt.ensureRule('filter', CHAINS.forward, ['-i', br, ...c, '-j', 'ACCEPT']);
    await this.ipt.ensureRule('filter', CHAINS.forward, [
      '-o',
      br,
      '-m',
      'conntrack',
      '--ctstate',
      'RELATED,ESTABLISHED',
      ...c,
      '-j',
      'ACCEPT',
    ]);
  }

  private async removeChainsIfUnused(): Promise<void> {
    for (const { table, chain } of CHAIN_TABLES) {
      if ((await this.ipt.listRules(table, chain)).length > 0) return;
    }
    for (const j of JUMPS) await this.ipt.deleteRule(j.table, j.chain, j.spec);
    for (const { table, chain } of CHAIN_TABLES) {
      if (!(await this.ipt.deleteChainIfEmpty(table, chain))) {
        // Another bridge started using the chains meanwhile: give it its jumps back.
        for (const j of JUMPS) await this.ipt.ensureRule(j.table, j.chain, j.spec, { insert: true });
        return;
      }
    }
  }

  // ---- ports ----------------------------------------------------------------

  private async resolveHostPorts(id: string, ports: PortMapping[]): Promise<PortMapping[]> {
    const taken = new Set<string>();
    for (const rec of await this.listRecords()) {
      if (rec.id === id || rec.mode !== 'bridge') continue;
      for (const p of rec.ports) if (isPublished(p)) taken.add(`${p.protocol}:${p.hostPort}`);
    }
    const out: PortMapping[] = [];
    for (const p of ports) {
      if (!isPublished(p)) {
        out.push(p);
        continue;
      }
      const key = (port: number) => `${p.protocol}:${port}`;
      if (p.hostPort !== 0) {
        if (taken.has(key(p.hostPort)))
          throw new FailedPreconditionError(
            `ports: host port ${formatPort(p)} is already published by another container`,
          );
        if ((await this.probe(p.hostIp, p.hostPort, p.protocol)) === undefined)
          throw new FailedPreconditionError(
            `ports: host port ${p.hostIp}:${p.hostPort}/${p.protocol} is in use on the host`,
          );
        taken.add(key(p.hostPort));
        out.push(p);
        continue;
      }
      let picked: number | undefined;
      for (let i = 0; i < MAX_PORT_PICKS && picked === undefined; i++) {
        const port = await this.probe(p.hostIp, 0, p.protocol);
        if (port !== undefined && !taken.has(key(port))) picked = port;
      }
      if (picked === undefined)
        throw new FailedPreconditionError(
          `ports: no free host port for ${formatPort(p)} after ${MAX_PORT_PICKS} tries`,
        );
      taken.add(key(picked));
      out.push({ ...p, hostPort: picked });
    }
    return out;
  }

  private async probe(ip: string, port: number, protocol: 'tcp' | 'udp'): Promise<number | undefined> {
    try {
      return await probeHostPort(ip, port, protocol);
    } catch (err) {
      throw new InvalidArgumentError(
        `ports: cannot use host address ${ip}:${port}/${protocol}: ${messageOf(err)}`,
        {
          field: 'ports',
          cause: err,
        },
      );
    }
  }

  private async addPortRules(id: string, address: string, ports: PortMapping[]): Promise<void> {
    const c = ['-m', 'comment', '--comment', `berth:${this.bridge}:${short(id)}`];
    for (const p of ports) {
      if (!isPublished(p)) continue;
      const dst = p.hostIp === '0.0.0.0' ? [] : ['-d', `${p.hostIp}/32`];
      const proto = ['-p', p.protocol, '-m', p.protocol];
      await this.ipt.ensureRule('nat', CHAINS.dnat, [
        ...proto,
        ...dst,
        '--dport',
        String(p.hostPort),
        ...c,
        '-j',
        'DNAT',
        '--to-destination',
        `${address}:${p.containerPort}`,
      ]);
      await this.ipt.ensureRule('filter', CHAINS.forward, [
        '-d',
        `${address}/32`,
        '-o',
        this.bridge,
        ...proto,
        '--dport',
        String(p.containerPort),
        ...c,
        '-j',
        'ACCEPT',
      ]);
    }
  }

  // ---- teardown and records -----------------------------------------------------

  /** Undoes whatever part of an attachment exists; safe to repeat. */
  private async teardown(id: string): Promise<void> {
    const rec = await this.readRecord(id);
    // Only bridge attachments make rules, veths and addresses; `none` and `host` records skip those
    // lookups (three iptables and one ip run, most of a detach). Without a record, sweep everything.
    const bridged = rec === undefined || rec.mode === 'bridge';
    if (bridged) {
      const tag = `berth:${rec?.bridge ?? this.bridge}:${short(id)}`;
      for (const { table, chain } of CHAIN_TABLES)
        await this.ipt.deleteRulesByComment(table, chain, (c) => c === tag);
    }
    if (rec?.netns) await this.ip.runDelete(['netns', 'del', rec.netns]);
    // Deleting the netns destroys the pair too; this catches a veth that never made it into the netns.
    if (rec?.veth || rec === undefined) {
      const veth = rec?.veth ?? this.vethName(id);
      if (await this.ip.linkExists(veth)) await this.ip.runDelete(['link', 'del', 'dev', veth]);
    }
    if (bridged) await this.ipam.release(id);
    await rm(this.containerDir(id), { recursive: true, force: true });
    if (rec) this.log.info({ id, mode: rec.mode }, 'network: detached');
  }

  private containerDir(id: string): string {
    return path.join(this.stateDir, id);
  }

  private async writeFiles(
    id: string,
    hostname: string,
    address: string | undefined,
    extraHosts: Array<[string, string]>,
  ): Promise<{ hostsPath: string; resolvConfPath: string }> {
    const dir = this.containerDir(id);
    const hostsPath = path.join(dir, 'hosts');
    const resolvConfPath = path.join(dir, 'resolv.conf');
    const host = parseResolvConf(await readOr(this.hostResolvConf, ''));
    // Mode none has no route to any resolver; keep the host's search/options so the file is still meaningful.
    const servers =
      this.dnsServers === 'host' ? host.nameservers.filter((n) => !isLoopbackHost(n)) : this.dnsServers;
    const nameservers = address ? servers : [];
    // The embedded DNS's domain first, so a bare container name is answered by berth, not asked upstream.
    const search = address ? [...new Set([...this.dnsSearch, ...host.search])] : host.search;
    // Derived files, written again on every start: atomic (a container never sees a torn one) but
    // not fsynced, which would put three disk flushes on every container start.
    await Promise.all([
      writeFileAtomic(
        hostsPath,
        renderHosts({ hostname, ...(address ? { address } : {}), extraHosts }),
        0o644,
        { sync: false },
      ),
      writeFileAtomic(resolvConfPath, renderResolvConf({ ...host, nameservers, search }), 0o644, {
        sync: false,
      }),
      writeFileAtomic(path.join(dir, 'hostname'), `${hostname}\n`, 0o644, { sync: false }),
    ]);
    return { hostsPath, resolvConfPath };
  }

  private async writeRecord(rec: AttachmentRecord): Promise<void> {
    const dir = this.containerDir(rec.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Only a bridge record guards host state (netns, veth, address, rules) that a crash could leak;
    // a lost `none`/`host` record is harmless (a detach without one sweeps anyway), so no disk flush.
    await writeFileAtomic(path.join(dir, 'network.json'), `${JSON.stringify(rec, null, 2)}\n`, 0o600, {
      sync: rec.mode === 'bridge',
    });
  }

  private async readRecord(id: string): Promise<AttachmentRecord | undefined> {
    let text: string;
    try {
      text = await readFile(path.join(this.containerDir(id), 'network.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const rec = JSON.parse(text) as AttachmentRecord;
      if (rec.id !== id) throw new Error(`records container ${rec.id}`);
      return rec;
    } catch (err) {
      throw new InternalError(
        `network: ${this.containerDir(id)}/network.json is unreadable: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  private async listRecords(): Promise<AttachmentRecord[]> {
    let entries: string[];
    try {
      entries = (await readdir(this.stateDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: AttachmentRecord[] = [];
    for (const name of entries) {
      if (!ID_RE.test(name)) continue;
      const rec = await this.readRecord(name).catch((err: unknown) => {
        this.log.warn({ err, id: name }, 'network: skipping an unreadable attachment record');
        return undefined;
      });
      if (rec) out.push(rec);
    }
    return out;
  }

  private async checkShortIdFree(id: string): Promise<void> {
    // Only directories sharing the 12-character prefix can clash: read those records, not every one.
    let names: string[];
    try {
      names = await readdir(this.stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      if (name === id || !name.startsWith(short(id)) || !ID_RE.test(name)) continue;
      const rec = await this.readRecord(name).catch(() => undefined);
      if (rec && rec.id !== id && short(rec.id) === short(id))
        throw new FailedPreconditionError(
          `network: container ${id} shares its first 12 characters with attached container ${rec.id}; netns and veth names would clash`,
        );
    }
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new InvalidArgumentError(`id: "${id}" is not a container id`, { field: 'id' });
}

function short(id: string): string {
  return id.slice(0, 12);
}

function parseMode(mode: string): NetworkMode {
  const m = mode === '' || mode === 'default' ? 'bridge' : mode;
  if ((NETWORK_MODES as readonly string[]).includes(m)) return m as NetworkMode;
  throw new InvalidArgumentError(`network: "${mode}" is not a network mode (${NETWORK_MODES.join(', ')})`, {
    field: 'network',
  });
}

function macFor(ip: string): string {
  const hex = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '42', ...hex].join(':');
}

async function readOr(file: string, fallback: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

async function writeSysctl(file: string, value: string): Promise<void> {
  try {
    const cur = (await readFile(file, 'utf8')).trim();
    if (cur !== value) await writeFile(file, value);
  } catch (err) {
    throw new FailedPreconditionError(`network: cannot set ${file} to ${value}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}
