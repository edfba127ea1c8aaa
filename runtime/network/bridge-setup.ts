import { FailedPreconditionError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { Subnet } from './cidr.js';
import type { IpTool } from './ip.js';
import { commentOf, type Iptables, type Table } from './iptables.js';
import { macFor } from './names.js';
import type { SysctlWriter } from './sysctl.js';

/** berth's own chains; shared by every bridge on the host, each rule tagged with its bridge (and container). */
export const CHAINS = {
  postrouting: 'BERTH-POSTROUTING',
  dnat: 'BERTH-DNAT',
  forward: 'BERTH-FORWARD',
  /** Traffic leaving one berth bridge for another: on to isolate2 (Docker's two-stage isolation). */
  isolate: 'BERTH-ISOLATE',
  /** Dropped when it goes out of a berth bridge: so networks never reach each other. */
  isolate2: 'BERTH-ISOLATE-2',
} as const;

const JUMP_COMMENT = 'berth';

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
const JUMPS: Array<{ table: Table; chain: string; spec: string[] }> = [
  { table: 'nat', chain: 'PREROUTING', spec: LOCAL_TO_DNAT },
  { table: 'nat', chain: 'OUTPUT', spec: LOCAL_TO_DNAT },
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
  // First in BERTH-FORWARD: isolation is decided before any bridge's ACCEPT.
  {
    table: 'filter',
    chain: CHAINS.forward,
    spec: ['-m', 'comment', '--comment', JUMP_COMMENT, '-j', CHAINS.isolate],
  },
];

export const CHAIN_TABLES: Array<{ table: Table; chain: string }> = [
  { table: 'nat', chain: CHAINS.dnat },
  { table: 'nat', chain: CHAINS.postrouting },
  { table: 'filter', chain: CHAINS.forward },
  { table: 'filter', chain: CHAINS.isolate },
  { table: 'filter', chain: CHAINS.isolate2 },
];

/**
 * The bridge device and what every container on it shares: its fixed MAC and
 * gateway address, `ip_forward`, `route_localnet`, berth's chains with their
 * jumps, and the bridge's NAT and forward rules (comment `berth:<bridge>`).
 * `ensure` is idempotent and cheap once done; `removeChainsIfUnused` undoes
 * the shared part when no bridge uses it any more.
 */
export class BridgeSetup {
  private ready = false;

  constructor(
    readonly bridge: string,
    private readonly subnet: Subnet,
    private readonly ip: IpTool,
    private readonly ipt: Iptables,
    private readonly sysctl: SysctlWriter,
    private readonly log: Logger,
    /** An internal network: no NAT, no traffic in or out of the bridge but its own (the host's DNS excepted). */
    private readonly internal = false,
  ) {}

  async ensure(): Promise<void> {
    const kind = await this.ip.linkKind(this.bridge);
    if (kind === 'other')
      throw new FailedPreconditionError(
        `bridge: interface ${this.bridge} exists and is not a bridge; configure another bridge name`,
      );
    if (this.ready && kind === 'bridge') return;
    if (kind === 'missing') {
      await this.ip
        .run(['link', 'add', 'name', this.bridge, 'type', 'bridge'])
        .catch(async (err: unknown) => {
          // Another agent (or test) may have created it concurrently; otherwise the add's error stands.
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
    await this.sysctl.set('net/ipv4/ip_forward', '1');
    // Lets DNAT send 127.0.0.1-sourced packets out of the bridge (published ports on localhost).
    await this.sysctl.set(`net/ipv4/conf/${this.bridge}/route_localnet`, '1');
    await this.ensureChains();
    this.ready = true;
  }

  private async ensureChains(): Promise<void> {
    for (const { table, chain } of CHAIN_TABLES) await this.ipt.ensureChain(table, chain);
    for (const j of JUMPS) await this.ipt.ensureRule(j.table, j.chain, j.spec, { insert: true });
    const c = ['-m', 'comment', '--comment', `berth:${this.bridge}`];
    const cidr = this.subnet.cidr;
    const br = this.bridge;
    // Isolation (README "Isolation"): leaving this bridge for any other berth bridge is dropped.
    await this.ipt.ensureRule('filter', CHAINS.isolate, [
      '-i',
      br,
      '!',
      '-o',
      br,
      ...c,
      '-j',
      CHAINS.isolate2,
    ]);
    await this.ipt.ensureRule('filter', CHAINS.isolate2, ['-o', br, ...c, '-j', 'DROP']);
    if (this.internal) {
      await this.ipt.ensureRule('filter', CHAINS.isolate, ['-i', br, '!', '-o', br, ...c, '-j', 'DROP']);
      await this.ipt.ensureRule('filter', CHAINS.isolate, ['-o', br, '!', '-i', br, ...c, '-j', 'DROP']);
      await this.ipt.ensureRule('filter', CHAINS.forward, ['-i', br, '-o', br, ...c, '-j', 'ACCEPT']);
      return;
    }
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

  /** Deletes every rule of the chains holding a container's rules (DNAT, FORWARD) whose comment `match`es. */
  async deleteContainerRules(match: (comment: string) => boolean): Promise<void> {
    await this.ipt.deleteRulesByComment('nat', CHAINS.dnat, match);
    await this.ipt.deleteRulesByComment('filter', CHAINS.forward, match);
  }

  /** Deletes every rule of berth's chains whose comment `match`es. */
  async deleteRulesByComment(match: (comment: string) => boolean): Promise<void> {
    for (const { table, chain } of CHAIN_TABLES) await this.ipt.deleteRulesByComment(table, chain, match);
  }

  /** Deletes the bridge device (only if it is a bridge) and forgets it was set up. */
  async deleteBridge(): Promise<void> {
    if ((await this.ip.linkKind(this.bridge)) === 'bridge')
      await this.ip.runDelete(['link', 'del', 'dev', this.bridge]);
    this.ready = false;
  }

  /** Removes the jumps and the chains once no bridge has rules in them. */
  async removeChainsIfUnused(): Promise<void> {
    for (const { table, chain } of CHAIN_TABLES) {
      // The jump into the isolation chain (comment `berth`) is berth's own, not a bridge's use.
      const rules = await this.ipt.listRules(table, chain);
      if (rules.some((r) => commentOf(r) !== JUMP_COMMENT)) return;
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
}
