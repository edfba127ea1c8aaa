import { totalmem } from 'node:os';
import type { ContainerDescriptor, ContainerSource } from '../../runtime/types.js';
import { isNotFound } from '../../src/common/errors.js';
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

  /** Running containers, or those named (id, id prefix or name) that run. */
  async read(names: string[] = []): Promise<ContainerStats[]> {
    const running = (await this.source.list()).filter((c) => c.state === 'running' && c.cgroupPath);
    const wanted =
      names.length === 0
        ? running
        : running.filter((c) => names.some((n) => n === c.name || (n.length >= 3 && c.id.startsWith(n))));
    this.reader ??= createCgroupReader(this.roots);
    const reader = await this.reader;
    const out = await Promise.all(wanted.map((c) => this.readOne(c, reader)));
    return out.filter((s): s is ContainerStats => s !== undefined);
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
