// Over 400 lines: the manager orders every step of attach, connect, detach, restore and the network verbs under one lock.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../base/errors.js';
import { Mutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/log.js';
import type { PortMapping } from '../types.js';
import { parseSubnet, type Subnet } from './cidr.js';
import { ContainerFiles } from './container-files.js';
import { ChildProcessRunner, type CommandRunner } from './exec.js';
import { parseExtraHosts } from './hostfiles.js';
import { probeHostPort } from './hostports.js';
import { IpTool } from './ip.js';
import { Iptables } from './iptables.js';
import {
  attachmentMaps,
  checkJoins,
  defaultRouteIndex,
  linksOf,
  linkVeth,
  membersOf,
  vethOwner,
} from './links.js';
import { LiveLinks } from './live-links.js';
import { checkId, netnsName, parseMode, short, vethName } from './names.js';
import { DEFAULT_NETWORK } from './net-names.js';
import { DEFAULT_POOL, DEFAULT_POOL_PREFIX } from './pool.js';
import { formatPort, isPublished, validatePortMappings } from './portspec.js';
import { AttachmentStore } from './records.js';
import { NetworkRegistry, publicDef } from './registry.js';
import { type HostTools, Segment } from './segment.js';
import { Segments } from './segments.js';
import { ProcSysctl } from './sysctl.js';
import type {
  AttachmentRecord,
  BridgeNetworkOptions,
  LinkRecord,
  NetworkAttachment,
  NetworkCreateRequest,
  NetworkInfo,
  NetworkJoinRequest,
  NetworkPort,
  NetworkVerbs,
} from './types.js';

export { CHAINS } from './bridge-setup.js';
export type { NetworkInfo } from './types.js';

type AttachReq = Parameters<NetworkPort['attach']>[1];

/**
 * Container networking over iproute2 and iptables: `none` (own netns, lo
 * only), `host` (the host's stack) and `bridge` (veths into the default
 * bridge and into user-defined networks' bridges, IPAM, NAT, isolation and
 * published ports).
 *
 * Lifecycle: `attach` before the container is created (the OCI spec joins
 * the named netns by path), `detach` after it is gone, `restore` once on agent
 * start. Named netns under /run/netns, the bridges, veths and iptables rules
 * outlive the agent, so a restart does not disturb running containers.
 * `destroy` undoes every host change of the default bridge.
 *
 * The user-defined networks (registry.ts) are created, listed, removed here
 * too, under the same lock as attachments, so a network is never removed
 * while a container joins it. Each network's host side is a Segment
 * (segment.ts: bridge-setup.ts, ipam.ts, netns.ts, publish.ts).
 */
export class BridgeNetworkManager implements NetworkPort, Omit<NetworkVerbs, 'connect' | 'disconnect'> {
  readonly bridge: string;
  readonly subnet: Subnet;
  readonly stateDir: string;
  private readonly log: Logger;
  private readonly ipam;
  private readonly setup;
  private readonly veths;
  private readonly ports;
  /** The default network's host side (`bridge`). */
  private readonly main: Segment;
  private readonly registry: NetworkRegistry;
  private readonly segments: Segments;
  private readonly live: LiveLinks;
  private readonly files: ContainerFiles;
  private readonly records: AttachmentStore;
  /** Host addresses a container must reach even without a default route: the embedded DNS. */
  private readonly dnsHosts: string[];
  /** One host-state change at a time: IPAM, port picks and rule sets must not interleave. */
  private readonly lock = new Mutex();

  constructor(opts: BridgeNetworkOptions) {
    this.bridge = opts.bridge ?? 'berth0';
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(this.bridge))
      throw new InvalidArgumentError(
        `bridge: "${this.bridge}" is not an interface name (1-15 of A-Z a-z 0-9 _ . -)`,
        { field: 'bridge' },
      );
    this.subnet = parseSubnet(opts.subnet ?? '10.88.0.0/16');
    this.stateDir = opts.stateDir;
    this.log = opts.logger;
    const runner: CommandRunner = opts.runner ?? new ChildProcessRunner();
    const tools: HostTools = {
      ip: new IpTool(runner),
      ipt: new Iptables(runner, opts.iptables ?? 'iptables'),
      sysctl: opts.sysctl ?? new ProcSysctl(),
      probePort: opts.probePort ?? probeHostPort,
      log: this.log,
    };
    this.main = new Segment(DEFAULT_NETWORK, this.bridge, this.subnet, false, opts.stateDir, tools);
    this.ipam = this.main.ipam;
    this.setup = this.main.setup;
    this.veths = this.main.veths;
    this.ports = this.main.ports;
    // A bad pool stops the agent's start naming the option, not the first `network create`.
    if (opts.networkPool !== undefined) parseSubnet(opts.networkPool, 'networkPool');
    this.registry = new NetworkRegistry({
      dir: path.join(opts.stateDir, 'networks'),
      defaultSubnet: this.subnet,
      pool: opts.networkPool ?? DEFAULT_POOL,
      poolPrefix: opts.networkPoolPrefix ?? DEFAULT_POOL_PREFIX,
      tools,
    });
    const servers = opts.dnsServers ?? [this.subnet.gateway];
    this.dnsHosts = servers === 'host' ? [] : [...servers];
    this.files = new ContainerFiles({
      dnsServers: servers === 'host' ? servers : [...servers],
      dnsSearch: (opts.dnsSearch ?? []).map((d) => d.replace(/\.$/, '')).filter((d) => d !== ''),
      hostResolvConf: opts.hostResolvConf ?? '/etc/resolv.conf',
      hostHosts: opts.hostHosts ?? '/etc/hosts',
    });
    this.records = new AttachmentStore(opts.stateDir, this.log);
    this.segments = new Segments(this.main, this.registry);
    this.live = new LiveLinks(this.records, this.segments, this.log);
  }

  /** The gateway address: the bridge's own address, where the embedded DNS listens. */
  get gateway(): string {
    return this.subnet.gateway;
  }

  netnsName(id: string): string {
    return netnsName(id);
  }

  vethName(id: string): string {
    return vethName(id);
  }

  async attach(id: string, req: AttachReq): Promise<NetworkAttachment> {
    checkId(id);
    const mode = parseMode(req.mode);
    const ports = validatePortMappings(req.ports ?? []);
    const extraHosts = parseExtraHosts(req.extraHosts);
    const hostname = req.hostname || short(id);
    const joins = checkJoins(req.networks);
    if (mode !== 'bridge' && req.networks !== undefined && req.networks.length > 0)
      throw new InvalidArgumentError(`networks: joining networks needs mode bridge (mode is ${mode})`, {
        field: 'networks',
      });
    return this.lock.run(async () => {
      const existing = await this.records.read(id);
      if (existing)
        throw new FailedPreconditionError(
          `network: container ${short(id)} is already attached (${existing.mode})`,
        );
      await this.records.checkShortIdFree(id);
      await mkdir(this.records.containerDir(id), { recursive: true, mode: 0o700 });
      try {
        switch (mode) {
          case 'host':
            return await this.attachHost(id, hostname, ports, extraHosts);
          case 'none':
            return await this.attachNone(id, hostname, ports, extraHosts);
          default:
            return await this.attachBridge(id, hostname, ports, extraHosts, joins);
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
      const records = await this.records.list();
      for (const rec of records) {
        if (live.has(rec.id)) continue;
        this.log.info(
          { id: rec.id, mode: rec.mode },
          'network: freeing the attachment of a container that is gone',
        );
        await this.teardown(rec.id);
      }
      const segs = [this.main, ...(await this.registry.restore())];
      for (const seg of segs) {
        // A crash between IPAM and the record, or a lost state dir, can leave owners without records.
        for (const f of await seg.ipam.retainOnly(live))
          this.log.info({ ip: f.ip, id: f.id, network: seg.name }, 'network: freed a leaked address');
        for (const link of await seg.veths.linksInBridge()) {
          const owner = vethOwner(link);
          if (owner !== undefined && !liveShort.has(owner)) {
            this.log.info({ link, network: seg.name }, 'network: deleting a leaked veth');
            await seg.veths.deleteLink(link);
          }
        }
        const tag = `${seg.tag}:`;
        await seg.setup.deleteRulesByComment((c) => c.startsWith(tag) && !liveShort.has(c.slice(tag.length)));
      }
      // Rules may have been flushed by a firewall reload while the agent was down: put back what live containers need.
      const liveBridged = records.filter((r) => live.has(r.id) && r.mode === 'bridge');
      if (liveBridged.some((r) => linksOf(r).some((l) => l.bridge === this.bridge)))
        await this.setup.ensure();
      for (const rec of liveBridged) {
        const first = linksOf(rec)[0];
        const seg = segs.find((s) => s.bridge === first?.bridge);
        if (seg && first?.address && !seg.internal)
          await seg.ports.addRules(rec.id, first.address, rec.ports);
      }
    });
  }

  /**
   * Removes the default bridge and every user network's bridge, every
   * container attachment recorded in the state dir, every rule tagged with
   * those bridges, and berth's chains and jumps once no bridge uses them any
   * more. User networks' definitions stay (the next start re-creates their
   * bridges; `removeNetwork` removes one for good). ip_forward is left on:
   * other software may rely on it.
   */
  destroy(): Promise<void> {
    return this.lock.run(async () => {
      for (const rec of await this.records.list()) await this.teardown(rec.id);
      // User networks lose their host side (bridge, rules, addresses) but keep their definitions:
      // the next agent start re-creates them (restore), as Docker keeps its networks.
      const segs = [this.main];
      for (const def of await this.registry.list()) segs.push(this.registry.segment(def));
      for (const seg of segs) {
        await seg.ipam.retainOnly(new Set());
        const tag = seg.tag;
        await seg.setup.deleteRulesByComment((c) => c === tag || c.startsWith(`${tag}:`));
        await seg.setup.deleteBridge();
      }
      await this.setup.removeChainsIfUnused();
    });
  }

  /** Creates the bridge now (the agent does at start, so its DNS can listen on the gateway); returns the gateway address. */
  async up(): Promise<string> {
    await this.lock.run(() => this.setup.ensure());
    return this.subnet.gateway;
  }

  // ---- user-defined networks (README "User-defined networks") ---------------

  /** Creates a network: its subnet from the pool (or checked), its bridge and rules. AlreadyExists when the name is taken. */
  async createNetwork(req: NetworkCreateRequest): Promise<NetworkInfo> {
    return this.lock.run(async () => ({ ...publicDef(await this.registry.create(req)), containers: [] }));
  }

  /** The default network first, then the user-defined ones by name, each with its running containers. */
  async listNetworks(): Promise<NetworkInfo[]> {
    return this.lock.run(async () => {
      const records = await this.records.list();
      const defs = (await this.registry.list()).filter((d) => !d.removing);
      return [
        this.defaultInfo(records),
        ...defs.map((d) => ({ ...publicDef(d), containers: membersOf(records, d.name) })),
      ];
    });
  }

  async inspectNetwork(name: string): Promise<NetworkInfo> {
    return this.lock.run(async () => {
      const records = await this.records.list();
      if (name === DEFAULT_NETWORK) return this.defaultInfo(records);
      const def = await this.registry.get(name);
      return { ...publicDef(def), containers: membersOf(records, def.name) };
    });
  }

  /** Removes a network no running container is on (FailedPrecondition naming them otherwise). */
  async removeNetwork(name: string): Promise<void> {
    if (name === DEFAULT_NETWORK)
      throw new FailedPreconditionError('network bridge is the default network and cannot be removed');
    return this.lock.run(async () => {
      const def = await this.registry.get(name);
      const members = membersOf(await this.records.list(), name);
      if (members.length > 0)
        throw new FailedPreconditionError(
          `network ${name} has containers attached: ${members.map((m) => short(m.id)).join(', ')}; stop or disconnect them first`,
        );
      await this.registry.remove(def);
    });
  }

  /** Removes every user-defined network no running container is on; returns their names. */
  async pruneNetworks(filter: (n: NetworkInfo) => boolean = () => true): Promise<string[]> {
    return this.lock.run(async () => {
      const records = await this.records.list();
      const removed: string[] = [];
      for (const def of await this.registry.list()) {
        const info = { ...publicDef(def), containers: membersOf(records, def.name) };
        if (info.containers.length > 0 || !filter(info)) continue;
        await this.registry.remove(def);
        removed.push(def.name);
      }
      return removed;
    });
  }

  /** Joins a running bridge container to one more network: a new veth in its netns, an address of that network. */
  connect(id: string, network: string, aliases: string[] = []): Promise<NetworkAttachment> {
    checkId(id);
    const [join] = checkJoins([{ name: network, aliases }]);
    if (!join) throw new InvalidArgumentError('network: a network name is required', { field: 'network' });
    return this.lock.run(() => this.live.connect(id, join));
  }

  /** Takes a running container off a network (its veth and address go); its first network only while it publishes no ports. */
  disconnect(id: string, network: string): Promise<NetworkAttachment> {
    checkId(id);
    return this.lock.run(() => this.live.disconnect(id, network));
  }

  // ---- modes ----------------------------------------------------------------

  private async attachHost(
    id: string,
    hostname: string,
    ports: PortMapping[],
    extraHosts: Array<[string, string]>,
  ): Promise<NetworkAttachment> {
    await this.records.write({ id, mode: 'host', bridge: this.bridge, ports: [] });
    const files = await this.files.writeHostMode(this.records.containerDir(id), hostname, extraHosts);
    // The container shares the host's ports: what it exposes is reachable there as is.
    const resolved = ports
      .filter(isPublished)
      .map((p) => ({ ...p, hostIp: '0.0.0.0', hostPort: p.containerPort }));
    if (ports.some((p) => isPublished(p) && p.hostPort !== 0 && p.hostPort !== p.containerPort))
      this.log.warn(
        { id },
        'network: published ports are ignored in host mode; the container uses host ports directly',
      );
    await this.records.write({ id, mode: 'host', bridge: this.bridge, ports: resolved });
    return { addresses: {}, ...files, ports: resolved };
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
    await this.records.write({ id, mode: 'none', bridge: this.bridge, ports: [] });
    if (ports.some(isPublished)) this.log.warn({ id }, 'network: published ports are ignored in mode none');
    const files = await this.files.write(this.records.containerDir(id), hostname, undefined, extraHosts);
    return { addresses: {}, ...files, ports: [] };
  }

  private async attachBridge(
    id: string,
    hostname: string,
    ports: PortMapping[],
    extraHosts: Array<[string, string]>,
    joins: NetworkJoinRequest[],
  ): Promise<NetworkAttachment> {
    const netns = netnsName(id);
    const segs: Segment[] = [];
    for (const [i, j] of joins.entries())
      segs.push(await this.segments.forJoin(j.name, `networks[${i}].name`));
    const links: LinkRecord[] = joins.map((j, i) => ({
      network: j.name,
      bridge: segs[i]?.bridge ?? this.bridge,
      veth: linkVeth(id, i),
      ifname: `eth${i}`,
      aliases: j.aliases ?? [],
    }));
    const primary = segs[0] ?? this.main;
    // Port conflicts are the likeliest user error: find them before touching the host.
    const resolved = await primary.ports.resolve(id, ports, await this.records.list());
    if (primary.internal && resolved.some(isPublished))
      this.log.warn(
        { id, network: primary.name },
        'network: published ports are ignored on an internal network',
      );
    const rec: AttachmentRecord = {
      id,
      mode: 'bridge',
      bridge: primary.bridge,
      netns,
      veth: links[0]?.veth ?? vethName(id),
      ports: resolved,
      links,
    };
    await this.records.write(rec);
    for (const [i, seg] of segs.entries()) {
      await seg.setup.ensure();
      const link = links[i];
      if (link) link.address = await seg.ipam.allocate(id);
    }
    const address = links[0]?.address ?? '';
    rec.address = address;
    await this.records.write(rec);
    const routeVia = defaultRouteIndex(segs);
    for (const [i, seg] of segs.entries()) {
      const link = links[i];
      if (!link?.address) continue;
      await seg.veths.attach(netns, link.veth, link.address, {
        ifname: link.ifname,
        netnsExists: i > 0,
        defaultRoute: i === routeVia,
        // Only internal networks: the embedded DNS on the default gateway is still reached through the host.
        ...(routeVia === undefined && i === 0 ? { hostRoutes: this.dnsHosts } : {}),
      });
    }
    if (!primary.internal) await primary.ports.addRules(id, address, rec.ports);
    const files = await this.files.write(this.records.containerDir(id), hostname, address, extraHosts);
    this.log.info(
      { id, networks: links.map((l) => `${l.network}=${l.address}`), ports: rec.ports.map(formatPort) },
      'network: attached',
    );
    return { netnsPath: this.veths.netnsPath(netns), ...attachmentMaps(links), ...files, ports: rec.ports };
  }

  /** Undoes whatever part of an attachment exists; safe to repeat. */
  private async teardown(id: string): Promise<void> {
    const rec = await this.records.read(id);
    // Only bridge attachments make rules, veths and addresses; `none` and `host` records skip those
    // lookups (three iptables and one ip run, most of a detach). Without a record, sweep everything.
    const bridged = rec === undefined || rec.mode === 'bridge';
    const links = rec ? linksOf(rec) : [];
    const segs: Segment[] = [];
    if (rec === undefined) {
      segs.push(this.main);
      for (const def of await this.registry.list()) segs.push(this.registry.segment(def));
    } else {
      for (const l of links) {
        const s = l.bridge === this.bridge ? this.main : await this.segments.find(l.network);
        if (s && !segs.includes(s)) segs.push(s);
      }
    }
    if (bridged) {
      const tags = new Set(
        [...segs.map((s) => s.bridge), ...links.map((l) => l.bridge)].map((b) => `berth:${b}:${short(id)}`),
      );
      await this.setup.deleteContainerRules((c) => tags.has(c));
    }
    // Deleting the netns destroys every pair; host ends that never made it in are deleted by name.
    const veths = rec === undefined ? [vethName(id)] : links.map((l) => l.veth);
    if (rec?.veth && !veths.includes(rec.veth)) veths.push(rec.veth);
    await this.veths.remove(rec?.netns, undefined);
    for (const v of veths) await this.veths.remove(undefined, v);
    if (bridged) for (const s of segs) await s.ipam.release(id);
    await rm(this.records.containerDir(id), { recursive: true, force: true });
    if (rec) this.log.info({ id, mode: rec.mode }, 'network: detached');
  }

  // ---- helpers --------------------------------------------------------------

  private defaultInfo(records: AttachmentRecord[]): NetworkInfo {
    return {
      id: 'bridge',
      name: DEFAULT_NETWORK,
      driver: 'bridge',
      bridge: this.bridge,
      subnet: this.subnet.cidr,
      gateway: this.subnet.gateway,
      internal: false,
      labels: {},
      createdAt: '',
      builtin: true,
      containers: membersOf(records, DEFAULT_NETWORK),
    };
  }
}
