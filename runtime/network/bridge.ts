import { mkdir, rm } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError } from '../base/errors.js';
import { Mutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/log.js';
import type { PortMapping } from '../types.js';
import { BridgeSetup } from './bridge-setup.js';
import { parseSubnet, type Subnet } from './cidr.js';
import { ContainerFiles } from './container-files.js';
import { ChildProcessRunner, type CommandRunner } from './exec.js';
import { parseExtraHosts } from './hostfiles.js';
import { probeHostPort } from './hostports.js';
import { IpTool } from './ip.js';
import { Ipam } from './ipam.js';
import { Iptables } from './iptables.js';
import { checkId, netnsName, parseMode, short, VETH_PREFIX, vethName } from './names.js';
import { VethAttacher } from './netns.js';
import { formatPort, isPublished, validatePortMappings } from './portspec.js';
import { PortPublisher } from './publish.js';
import { AttachmentStore } from './records.js';
import { ProcSysctl } from './sysctl.js';
import type { AttachmentRecord, BridgeNetworkOptions, NetworkAttachment, NetworkPort } from './types.js';

export { CHAINS } from './bridge-setup.js';

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
 *
 * This class orders the steps; each job is a file beside it: bridge-setup.ts
 * (bridge, sysctls, chains), netns.ts (netns and veth), publish.ts (host
 * ports and their rules), container-files.ts (hosts, resolv.conf), records.ts
 * (the attachment records), ipam.ts (addresses).
 */
export class BridgeNetworkManager implements NetworkPort {
  readonly bridge: string;
  readonly subnet: Subnet;
  readonly stateDir: string;
  private readonly log: Logger;
  private readonly ipam: Ipam;
  private readonly setup: BridgeSetup;
  private readonly veths: VethAttacher;
  private readonly ports: PortPublisher;
  private readonly files: ContainerFiles;
  private readonly records: AttachmentStore;
  /** One host-state change at a time: IPAM, port picks and rule sets must not interleave. */
  private readonly lock = new Mutex();

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
    this.log = opts.logger;
    const runner: CommandRunner = opts.runner ?? new ChildProcessRunner();
    const ip = new IpTool(runner);
    const ipt = new Iptables(runner, opts.iptables ?? 'iptables');
    this.ipam = new Ipam({ stateDir: opts.stateDir, subnet: this.subnet.cidr });
    const sysctl = opts.sysctl ?? new ProcSysctl();
    this.setup = new BridgeSetup(this.bridge, this.subnet, ip, ipt, sysctl, this.log);
    this.veths = new VethAttacher(this.bridge, this.subnet, ip);
    this.ports = new PortPublisher(this.bridge, ipt, opts.probePort ?? probeHostPort);
    const servers = opts.dnsServers ?? [this.subnet.gateway];
    this.files = new ContainerFiles({
      dnsServers: servers === 'host' ? servers : [...servers],
      dnsSearch: (opts.dnsSearch ?? []).map((d) => d.replace(/\.$/, '')).filter((d) => d !== ''),
      hostResolvConf: opts.hostResolvConf ?? '/etc/resolv.conf',
      hostHosts: opts.hostHosts ?? '/etc/hosts',
    });
    this.records = new AttachmentStore(opts.stateDir, this.log);
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
      const records = await this.records.list();
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
      for (const link of await this.veths.linksInBridge()) {
        if (link.startsWith(VETH_PREFIX) && !liveShort.has(link.slice(VETH_PREFIX.length))) {
          this.log.info({ link }, 'network: deleting a leaked veth');
          await this.veths.deleteLink(link);
        }
      }
      const tag = `berth:${this.bridge}:`;
      await this.setup.deleteRulesByComment((c) => c.startsWith(tag) && !liveShort.has(c.slice(tag.length)));
      // Rules may have been flushed by a firewall reload while the agent was down: put back what live containers need.
      if (liveBridge > 0) {
        await this.setup.ensure();
        for (const rec of records) {
          if (live.has(rec.id) && rec.mode === 'bridge' && rec.bridge === this.bridge && rec.address)
            await this.ports.addRules(rec.id, rec.address, rec.ports);
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
      for (const rec of await this.records.list()) await this.teardown(rec.id);
      await this.ipam.retainOnly(new Set());
      const tag = `berth:${this.bridge}`;
      await this.setup.deleteRulesByComment((c) => c === tag || c.startsWith(`${tag}:`));
      await this.setup.deleteBridge();
      await this.setup.removeChainsIfUnused();
    });
  }

  /** Creates the bridge now (the agent does at start, so its DNS can listen on the gateway); returns the gateway address. */
  async up(): Promise<string> {
    await this.lock.run(() => this.setup.ensure());
    return this.subnet.gateway;
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
  ): Promise<NetworkAttachment> {
    const netns = netnsName(id);
    const veth = vethName(id);
    // Port conflicts are the likeliest user error: find them before touching the host.
    const resolved = await this.ports.resolve(id, ports, await this.records.list());
    const rec: AttachmentRecord = { id, mode: 'bridge', bridge: this.bridge, netns, veth, ports: resolved };
    await this.records.write(rec);
    await this.setup.ensure();
    const address = await this.ipam.allocate(id);
    rec.address = address;
    await this.records.write(rec);
    await this.veths.attach(netns, veth, address);
    await this.ports.addRules(id, address, rec.ports);
    const files = await this.files.write(this.records.containerDir(id), hostname, address, extraHosts);
    this.log.info({ id, address, ports: rec.ports.map(formatPort) }, 'network: attached to bridge');
    return {
      netnsPath: this.veths.netnsPath(netns),
      addresses: { bridge: address },
      ...files,
      ports: rec.ports,
    };
  }

  /** Undoes whatever part of an attachment exists; safe to repeat. */
  private async teardown(id: string): Promise<void> {
    const rec = await this.records.read(id);
    // Only bridge attachments make rules, veths and addresses; `none` and `host` records skip those
    // lookups (three iptables and one ip run, most of a detach). Without a record, sweep everything.
    const bridged = rec === undefined || rec.mode === 'bridge';
    if (bridged) {
      const tag = this.ports.tag(id, rec?.bridge ?? this.bridge);
      await this.setup.deleteRulesByComment((c) => c === tag);
    }
    // Without a record, the veth this id would have had is looked for too.
    const veth = rec?.veth || rec === undefined ? (rec?.veth ?? vethName(id)) : undefined;
    await this.veths.remove(rec?.netns, veth);
    if (bridged) await this.ipam.release(id);
    await rm(this.records.containerDir(id), { recursive: true, force: true });
    if (rec) this.log.info({ id, mode: rec.mode }, 'network: detached');
  }
}
