import path from 'node:path';
import type { Subnet } from './cidr.js';
import type { IpTool } from './ip.js';
import { macFor, NETNS_DIR } from './names.js';

/** How one link joins a netns (a container's second network on: no new netns, no default route). */
export interface LinkOptions {
  /** The interface inside: `eth0` for the first network, `eth<n>` after. */
  ifname?: string;
  /** The netns is there already (a further network of the container). */
  netnsExists?: boolean;
  /** Default true: the default route goes via this link's gateway. */
  defaultRoute?: boolean;
  hostRoutes?: string[];
}

/**
 * A bridge container's own network: a named netns with `lo` up and a veth
 * pair, the host end in the bridge, the other end `eth0` inside with the
 * container's address and a default route via the gateway.
 */
export class VethAttacher {
  constructor(
    private readonly bridge: string,
    private readonly subnet: Subnet,
    private readonly ip: IpTool,
  ) {}

  /** `/run/netns/<netns>`: the path the OCI spec joins. */
  netnsPath(netns: string): string {
    return path.join(NETNS_DIR, netns);
  }

  async attach(netns: string, veth: string, address: string, opts: LinkOptions = {}): Promise<void> {
    const ifname = opts.ifname ?? 'eth0';
    if (opts.netnsExists !== true) {
      await this.ip.run(['netns', 'add', netns]);
      await this.ip.run(['-n', netns, 'link', 'set', 'lo', 'up']);
    }
    // Creating the peer directly inside the netns avoids a name clash with the host's own eth0.
    await this.ip.run(['link', 'add', veth, 'type', 'veth', 'peer', 'name', ifname, 'netns', netns]);
    await this.ip.run(['link', 'set', 'dev', veth, 'master', this.bridge]);
    // Hairpin lets a container reach itself through its own published port.
    await this.ip.run(['link', 'set', 'dev', veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    await this.ip.run(['link', 'set', 'dev', veth, 'up']);
    // A MAC derived from the address (as Docker does) keeps neighbours' ARP caches right when an address is reused.
    await this.ip.run(['-n', netns, 'link', 'set', 'dev', ifname, 'address', macFor(address)]);
    await this.ip.run(['-n', netns, 'addr', 'add', `${address}/${this.subnet.prefix}`, 'dev', ifname]);
    await this.ip.run(['-n', netns, 'link', 'set', 'dev', ifname, 'up']);
    if (opts.defaultRoute !== false)
      await this.ip.run(['-n', netns, 'route', 'add', 'default', 'via', this.subnet.gateway, 'dev', ifname]);
    // Host addresses outside the subnet this link must reach without a default route (the embedded DNS).
    for (const host of opts.hostRoutes ?? [])
      await this.ip.run([
        '-n',
        netns,
        'route',
        'replace',
        `${host}/32`,
        'via',
        this.subnet.gateway,
        'dev',
        ifname,
      ]);
  }

  /** Makes this link's gateway the default route of the netns (after the link that had it left). */
  async routeDefault(netns: string, ifname: string): Promise<void> {
    await this.ip.run([
      '-n',
      netns,
      'route',
      'replace',
      'default',
      'via',
      this.subnet.gateway,
      'dev',
      ifname,
    ]);
  }

  /**
   * Deletes the netns (which destroys the pair too) and then the host end if
   * it is still there (a veth that never made it into the netns). Missing
   * pieces count as removed.
   */
  async remove(netns: string | undefined, veth: string | undefined): Promise<void> {
    if (netns) await this.ip.runDelete(['netns', 'del', netns]);
    if (veth && (await this.ip.linkExists(veth))) await this.ip.runDelete(['link', 'del', 'dev', veth]);
  }

  /** Host ends of veths in the bridge (`vb<id12>`). */
  async linksInBridge(): Promise<string[]> {
    return this.ip.linksOf(this.bridge);
  }

  async deleteLink(link: string): Promise<void> {
    await this.ip.runDelete(['link', 'del', 'dev', link]);
  }
}
