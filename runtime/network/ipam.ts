import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, InternalError } from '../base/errors.js';
import { Mutex } from '../base/keyed-mutex.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { intToIp, ipToInt, parseSubnet, type Subnet } from './cidr.js';
import { writeFileAtomic } from './files.js';

/** The `ipam.json` format (`schemaVersion`); one without it is version 1. */
export const IPAM_VERSION = 1;

interface IpamFile {
  schemaVersion?: number;
  /** Kept as releases before schemaVersion wrote it. */
  version: 1;
  subnet: string;
  /** address → container id */
  allocations: Record<string, string>;
  /** Last address handed out; the next search starts after it so a freed address is not reused at once (stale ARP caches). */
  last?: string;
}

/**
 * Address management for one subnet, persisted in `<stateDir>/ipam.json`.
 * Every operation re-reads the file under an in-process lock, so a new
 * instance (after an agent restart) sees exactly what the old one handed out,
 * and concurrent attaches in one process never get the same address.
 */
export class Ipam {
  readonly subnet: Subnet;
  readonly file: string;
  private readonly lock = new Mutex();

  /** The gateway when it is not the subnet's first address (`network create --gateway`): never handed out. */
  private readonly gateway: string | undefined;

  constructor(opts: { stateDir: string; subnet: string; gateway?: string }) {
    this.subnet = parseSubnet(opts.subnet);
    this.file = path.join(opts.stateDir, 'ipam.json');
    this.gateway =
      opts.gateway !== undefined && opts.gateway !== this.subnet.gateway ? opts.gateway : undefined;
  }

  /** The address of `id`; allocates one when it has none (idempotent per id). */
  allocate(id: string): Promise<string> {
    return this.lock.run(async () => {
      const st = await this.load();
      for (const [ip, owner] of Object.entries(st.allocations)) if (owner === id) return ip;
      const { network, size } = this.subnet;
      // Usable: network+2 … broadcast-1 (network+1 is the gateway), or network+1 … when the gateway is elsewhere.
      const first = this.gateway === undefined ? network + 2 : network + 1;
      const count = this.gateway === undefined ? size - 3 : size - 2;
      const lastN = st.last ? ipToInt(st.last) : first - 1;
      const start = lastN >= first && lastN < first + count ? lastN - first + 1 : 0;
      for (let i = 0; i < count; i++) {
        const ip = intToIp(first + ((start + i) % count));
        if (st.allocations[ip] === undefined && ip !== this.gateway) {
          st.allocations[ip] = id;
          st.last = ip;
          await this.save(st);
          return ip;
        }
      }
      throw new FailedPreconditionError(
        `subnet ${this.subnet.cidr}: no free address (${count} usable, all in use); remove containers or configure a larger subnet`,
      );
    });
  }

  /** Frees the address of `id`; a no-op when it has none. */
  release(id: string): Promise<void> {
    return this.lock.run(async () => {
      const st = await this.load();
      let changed = false;
      for (const [ip, owner] of Object.entries(st.allocations)) {
        if (owner === id) {
          delete st.allocations[ip];
          changed = true;
        }
      }
      if (changed) await this.save(st);
    });
  }

  /** Frees every address whose owner is not in `keep`; returns the freed `{ip, id}` pairs. */
  retainOnly(keep: Set<string>): Promise<Array<{ ip: string; id: string }>> {
    return this.lock.run(async () => {
      const st = await this.load();
      const freed: Array<{ ip: string; id: string }> = [];
      for (const [ip, owner] of Object.entries(st.allocations)) {
        if (!keep.has(owner)) {
          delete st.allocations[ip];
          freed.push({ ip, id: owner });
        }
      }
      if (freed.length > 0) await this.save(st);
      return freed;
    });
  }

  /** address → container id, as persisted. */
  async allocations(): Promise<Record<string, string>> {
    return this.lock.run(async () => ({ ...(await this.load()).allocations }));
  }

  private async load(): Promise<IpamFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { version: 1, subnet: this.subnet.cidr, allocations: {} };
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InternalError(`${this.file}: IPAM state is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // A newer file is refused (every operation fails naming it): nothing is freed or handed out twice on a guess.
    checkVersion(parsed, { file: `${this.file}: IPAM state`, current: IPAM_VERSION });
    if (!isIpamFile(parsed)) throw new InternalError(`${this.file}: IPAM state has an unexpected shape`);
    // Allocations from an earlier subnet stay recorded (their containers may be live) but never collide with new ones.
    return parsed;
  }

  private async save(st: IpamFile): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(
      this.file,
      `${JSON.stringify(stampVersion({ ...st, subnet: this.subnet.cidr }, IPAM_VERSION), null, 2)}\n`,
      0o600,
    );
  }
}

function isIpamFile(v: unknown): v is IpamFile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.allocations !== 'object' || o.allocations === null) return false;
  return Object.values(o.allocations).every((x) => typeof x === 'string');
}
