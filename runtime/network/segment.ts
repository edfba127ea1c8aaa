import type { Logger } from '../base/log.js';
import { BridgeSetup } from './bridge-setup.js';
import type { Subnet } from './cidr.js';
import type { PortProbe } from './hostports.js';
import type { IpTool } from './ip.js';
import { Ipam } from './ipam.js';
import type { Iptables } from './iptables.js';
import { VethAttacher } from './netns.js';
import { PortPublisher } from './publish.js';
import type { SysctlWriter } from './sysctl.js';

/** The host tools every segment shares. */
export interface HostTools {
  ip: IpTool;
  ipt: Iptables;
  sysctl: SysctlWriter;
  probePort: PortProbe;
  log: Logger;
}

/**
 * One network's host side: its bridge, its subnet and IPAM, its rules, its
 * veths and published ports. The default network is one (`bridge`, the
 * manager's own bridge and `ipam.json`); each user-defined network is another.
 */
export class Segment {
  readonly ipam: Ipam;
  readonly setup: BridgeSetup;
  readonly veths: VethAttacher;
  readonly ports: PortPublisher;

  constructor(
    /** The user's name: `bridge` for the default network. */
    readonly name: string,
    readonly bridge: string,
    readonly subnet: Subnet,
    readonly internal: boolean,
    ipamDir: string,
    tools: HostTools,
  ) {
    this.ipam = new Ipam({ stateDir: ipamDir, subnet: subnet.cidr, gateway: subnet.gateway });
    this.setup = new BridgeSetup(bridge, subnet, tools.ip, tools.ipt, tools.sysctl, tools.log, internal);
    this.veths = new VethAttacher(bridge, subnet, tools.ip);
    this.ports = new PortPublisher(bridge, tools.ipt, tools.probePort);
  }

  /** The comment on this network's own rules (`berth:<bridge>`); container rules add `:<id12>`. */
  get tag(): string {
    return `berth:${this.bridge}`;
  }
}
