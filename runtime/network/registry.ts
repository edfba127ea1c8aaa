import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  messageOf,
  NotFoundError,
} from '../base/errors.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { parseSubnet, type Subnet } from './cidr.js';
import { writeFileAtomic } from './files.js';
import { DEFAULT_POOL_LOCK, withHostLock } from './host-lock.js';
import { bridgeNameFor, checkLabels, checkNetworkName, NETWORK_NAME_RE } from './net-names.js';
import { explicitSubnet, hostSubnets, pickSubnet, type TakenSubnet } from './pool.js';
import { type HostTools, Segment } from './segment.js';
import type { NetworkCreateRequest, NetworkDef } from './types.js';

/** The `networks/<name>/network.json` format. */
export const NETWORK_DEF_VERSION = 1;

export interface RegistryOptions {
  /** `<network stateDir>/networks`: one directory per network (`network.json`, `ipam.json`). */
  dir: string;
  /** The default network, whose subnet no user network may overlap. */
  defaultSubnet: Subnet;
  pool: string;
  poolPrefix: number;
  tools: HostTools;
  /** The host-wide lock file of subnet picks (host-lock.ts); default /run/lock/berth-network-pool.lock. */
  poolLock?: string;
}

/**
 * The user-defined networks: definitions stored atomically under
 * `networks/<name>/network.json` (written before the bridge is made, so a
 * crash leaves something restore finishes), their subnets picked from the
 * pool, and one `Segment` (bridge, IPAM, rules) per network. Not locked
 * itself: the manager (bridge.ts) calls it under its lock.
 */
export class NetworkRegistry {
  private readonly segments = new Map<string, Segment>();

  constructor(private readonly opts: RegistryOptions) {}

  /** Every readable definition, by name; an unreadable one is logged and skipped. */
  async list(): Promise<NetworkDef[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: NetworkDef[] = [];
    for (const name of names.sort()) {
      if (!NETWORK_NAME_RE.test(name)) continue;
      const def = await this.read(name).catch((err: unknown) => {
        this.opts.tools.log.warn(
          { err, network: name },
          'network: skipping an unreadable network definition',
        );
        return undefined;
      });
      if (def) out.push(def);
    }
    return out;
  }

  /** The definition of `name`; undefined when there is none. */
  async find(name: string): Promise<NetworkDef | undefined> {
    if (!NETWORK_NAME_RE.test(name)) return undefined;
    return this.read(name);
  }

  async get(name: string): Promise<NetworkDef> {
    const def = await this.find(name);
    if (!def || def.removing) throw new NotFoundError(`no such network: ${name}`);
    return def;
  }

  /** The host side of a network (cached: its BridgeSetup remembers what it ensured). */
  segment(def: NetworkDef): Segment {
    const have = this.segments.get(def.name);
    if (have && have.bridge === def.bridge) return have;
    const subnet = { ...parseSubnet(def.subnet), gateway: def.gateway };
    const seg = new Segment(
      def.name,
      def.bridge,
      subnet,
      def.internal,
      this.dirOf(def.name),
      this.opts.tools,
    );
    this.segments.set(def.name, seg);
    return seg;
  }

  async create(req: NetworkCreateRequest): Promise<NetworkDef> {
    const name = checkNetworkName(req.name);
    const labels = checkLabels(req.labels);
    if (req.internal !== undefined && typeof req.internal !== 'boolean')
      throw new InvalidArgumentError('internal: must be true or false', { field: 'internal' });
    if (req.gateway !== undefined && (req.subnet === undefined || req.subnet === ''))
      throw new InvalidArgumentError('gateway: needs --subnet (the gateway must be an address of it)', {
        field: 'gateway',
      });
    const existing = await this.find(name);
    if (existing && !existing.removing) throw new AlreadyExistsError(`network ${name} already exists`);
    if (existing) await this.remove(existing);
    // Picked and set up under a host-wide lock: another agent's bridge has no address until it is up.
    return withHostLock(this.opts.poolLock ?? DEFAULT_POOL_LOCK, () => this.createLocked(req, name, labels));
  }

  private async createLocked(
    req: NetworkCreateRequest,
    name: string,
    labels: Record<string, string>,
  ): Promise<NetworkDef> {
    const taken = await this.takenSubnets();
    const subnet =
      req.subnet !== undefined && req.subnet !== ''
        ? explicitSubnet(req.subnet, req.gateway, taken)
        : pickSubnet(this.opts.pool, this.opts.poolPrefix, taken);
    const id = randomBytes(32).toString('hex');
    const def: NetworkDef = {
      id,
      name,
      driver: 'bridge',
      bridge: await this.freeBridgeName(id),
      subnet: subnet.cidr,
      gateway: subnet.gateway,
      internal: req.internal ?? false,
      labels,
      createdAt: new Date().toISOString(),
    };
    await this.write(def);
    try {
      await this.segment(def).setup.ensure();
    } catch (err) {
      await this.remove(def).catch((e: unknown) =>
        this.opts.tools.log.warn({ err: e, network: name }, 'network: cleanup after a failed create failed'),
      );
      throw err;
    }
    this.opts.tools.log.info({ network: name, bridge: def.bridge, subnet: def.subnet }, 'network: created');
    return def;
  }

  /**
   * Removes a network's host state (its rules, its bridge, its IPAM) and its
   * definition. The caller has checked no container is attached.
   */
  async remove(def: NetworkDef): Promise<void> {
    if (!def.removing) await this.write({ ...def, removing: true });
    const seg = this.segment(def);
    await seg.setup.deleteRulesByComment((c) => c === seg.tag || c.startsWith(`${seg.tag}:`));
    await seg.setup.deleteBridge();
    await seg.setup.removeChainsIfUnused();
    await rm(this.dirOf(def.name), { recursive: true, force: true });
    this.segments.delete(def.name);
    this.opts.tools.log.info({ network: def.name, bridge: def.bridge }, 'network: removed');
  }

  /**
   * On agent start: finishes removals a crash interrupted and makes every
   * network's bridge and rules be there (after a reboot or a firewall reload).
   */
  async restore(): Promise<Segment[]> {
    const out: Segment[] = [];
    for (const def of await this.list()) {
      if (def.removing) {
        await this.remove(def);
        continue;
      }
      const seg = this.segment(def);
      try {
        await seg.setup.ensure();
        out.push(seg);
      } catch (err) {
        this.opts.tools.log.warn(
          { err: messageOf(err), network: def.name },
          'network: cannot set up its bridge',
        );
      }
    }
    return out;
  }

  dirOf(name: string): string {
    return path.join(this.opts.dir, name);
  }

  /** The default network, every network's subnet, and the host's own addresses and routes (not our bridges'). */
  private async takenSubnets(): Promise<TakenSubnet[]> {
    const defs = await this.list();
    const ours = new Set(defs.map((d) => d.subnet));
    ours.add(this.opts.defaultSubnet.cidr);
    const host = hostSubnets(
      await this.opts.tools.ip.run(['-4', '-o', 'addr', 'show']).catch(() => ''),
      await this.opts.tools.ip.run(['-4', 'route', 'show']).catch(() => ''),
    ).filter((t) => !ours.has(t.cidr));
    return [
      { cidr: this.opts.defaultSubnet.cidr, by: 'the default network (bridge)' },
      ...defs.map((d) => ({ cidr: d.subnet, by: `network ${d.name}` })),
      ...host,
    ];
  }

  private async freeBridgeName(id: string): Promise<string> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const name = bridgeNameFor(id, attempt);
      if ((await this.opts.tools.ip.linkKind(name)) === 'missing') return name;
    }
    throw new FailedPreconditionError('network: no free bridge name (8 tries); interfaces named bn-* clash');
  }

  private async read(name: string): Promise<NetworkDef | undefined> {
    const file = path.join(this.dirOf(name), 'network.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const raw = JSON.parse(text) as NetworkDef & { schemaVersion?: number };
      checkVersion(raw, { file, current: NETWORK_DEF_VERSION });
      const { schemaVersion: _v, ...def } = raw;
      if (def.name !== name) throw new Error(`records network ${def.name}`);
      return def;
    } catch (err) {
      throw new InternalError(`network: ${file} is unreadable: ${messageOf(err)}`, { cause: err });
    }
  }

  private async write(def: NetworkDef): Promise<void> {
    const dir = this.dirOf(def.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const text = `${JSON.stringify(stampVersion(def, NETWORK_DEF_VERSION), null, 2)}\n`;
    await writeFileAtomic(path.join(dir, 'network.json'), text, 0o600);
  }
}

/** A definition as users see it (without the removal mark). */
export function publicDef(def: NetworkDef): Omit<NetworkDef, 'removing'> {
  const { removing: _r, ...rest } = def;
  return rest;
}
