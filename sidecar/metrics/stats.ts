import { totalmem } from 'node:os';
import { isNotFound } from '../../runtime/base/errors.js';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';
import { parseNetDev } from './collectors/network.js';
import { readOptional } from './fsread.js';
import { createCgroupReader } from './reader.js';
import type { CgroupReader, Roots } from './types.js';

/** One container's counters at one moment, as `berth stats` shows them (rates are the caller's). */
export interface ContainerStats {
  id: string;
  name: string;
  /** When read, ms since the epoch. */
  at: number;
  /** Total CPU time, seconds. */
  cpuSeconds?: number;
  /** `limit`: the container's, or the host's memory when it has none. */
  memory: { usage?: number; workingSet?: number; limit: number };
  pids: { current?: number; max?: number };
  /** Summed over the container's interfaces other than lo; absent with the host's network. */
  net?: { rxBytes: number; txBytes: number };
  block: { readBytes: number; writeBytes: number };
}

/** What `read` (and `GET /v1/stats`) answers: the containers measured, and the names asked for that are unknown or not running. */
export interface StatsReply {
  containers: ContainerStats[];
  missing: string[];
}

/**
 * `docker stats` numbers from the same cgroup readers /metrics uses, so the
 * two never disagree. Reads on demand (no timer); containers that vanish
 * mid-read are left out.
 */
export class StatsReader {
  private reader: Promise<CgroupReader> | undefined;

  constructor(
    private readonly source: ContainerSource,
    private readonly roots: Roots,
  ) {}

  /**
   * Every running container, or the ones named (resolved as every other verb
   * resolves them: name, id or unique id prefix). `missing`: the names that
   * are unknown or not running.
   */
  async read(names: string[] = []): Promise<StatsReply> {
    const live = (c: ContainerDescriptor) => c.state === 'running' && c.cgroupPath !== undefined;
    const missing: string[] = [];
    let wanted: ContainerDescriptor[];
    if (names.length === 0) wanted = (await this.source.list()).filter(live);
    else {
      wanted = [];
      for (const n of names) {
        const c = await this.source.get(n).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (c && live(c)) wanted.push(c);
        else missing.push(n);
      }
    }
    this.reader ??= createCgroupReader(this.roots);
    const reader = await this.reader;
    const out = await Promise.all(wanted.map((c) => this.readOne(c, reader)));
    return { containers: out.filter((s): s is ContainerStats => s !== undefined), missing };
  }

  private async readOne(c: ContainerDescriptor, reader: CgroupReader): Promise<ContainerStats | undefined> {
    const path = c.cgroupPath ?? '';
    try {
      const [cpu, memory, pids, spec, blkio, netText] = await Promise.all([
        reader.cpu(path),
        reader.memory(path),
        reader.pids(path),
        reader.spec(path),
        reader.blkio(path),
        // The host network (no netns of its own) would show the host's counters: left out.
        c.networkMode === 'host' || c.pid === undefined
          ? Promise.resolve(undefined)
          : readOptional(`${this.roots.proc}/${c.pid}/net/dev`),
      ]);
      const ifaces = netText === undefined ? undefined : parseNetDev(netText);
      return {
        id: c.id,
        name: c.name,
        at: Date.now(),
        ...(cpu.stats.usageSeconds !== undefined ? { cpuSeconds: cpu.stats.usageSeconds } : {}),
        memory: {
          ...(memory.stats.usage !== undefined ? { usage: memory.stats.usage } : {}),
          ...(memory.stats.workingSet !== undefined ? { workingSet: memory.stats.workingSet } : {}),
          // Unlimited: the host's memory is the limit (as docker stats shows it).
          limit: spec.stats.memoryLimit || totalmem(),
        },
        pids: {
          ...(pids.stats.current !== undefined ? { current: pids.stats.current } : {}),
          ...(pids.stats.max ? { max: pids.stats.max } : {}),
        },
        ...(ifaces
          ? {
              net: {
                rxBytes: ifaces.reduce((s, i) => s + (i.values[0] ?? 0), 0),
                txBytes: ifaces.reduce((s, i) => s + (i.values[8] ?? 0), 0),
              },
            }
          : {}),
        block: {
          readBytes: blkio.stats.reduce((s, d) => s + d.readBytes, 0),
          writeBytes: blkio.stats.reduce((s, d) => s + d.writeBytes, 0),
        },
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
