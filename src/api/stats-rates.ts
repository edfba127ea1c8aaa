import type { ContainerStats, StatsReply } from '../../sidecar/metrics/stats.js';

/** One container in a `/v1/ws/stats` message: rates over the interval, levels now. */
export interface ContainerRates {
  id: string;
  name: string;
  /** Cores used over the interval (1.0 = one core busy). */
  cpu: number;
  memory: { usage?: number; workingSet?: number; limit: number };
  net?: { rxBytesPerSec: number; txBytesPerSec: number };
  block: { readBytesPerSec: number; writeBytesPerSec: number };
  pids: { current?: number; max?: number };
}

export interface StatsMessage {
  time: string;
  /** Seconds between the two readings (the longest of the containers'). */
  interval: number;
  containers: ContainerRates[];
  missing: string[];
}

/**
 * The rates between two readings of `StatsReader.read`: a container is in
 * the message only when both readings have it (a rate needs two); a counter
 * that went down (the container restarted, its cgroup is new) counts as 0.
 */
export function statsMessage(prev: StatsReply, now: StatsReply, at = new Date()): StatsMessage {
  const before = new Map(prev.containers.map((c) => [c.id, c]));
  let interval = 0;
  const containers: ContainerRates[] = [];
  for (const c of now.containers) {
    const p = before.get(c.id);
    if (!p) continue;
    const secs = (c.at - p.at) / 1000;
    if (secs <= 0) continue;
    interval = Math.max(interval, secs);
    containers.push(rates(p, c, secs));
  }
  return {
    time: at.toISOString(),
    interval: Math.round(interval * 1000) / 1000,
    containers,
    missing: now.missing,
  };
}

function rates(p: ContainerStats, c: ContainerStats, secs: number): ContainerRates {
  const rate = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? 0 : Math.max(0, b - a) / secs;
  return {
    id: c.id,
    name: c.name,
    cpu: rate(p.cpuSeconds, c.cpuSeconds),
    memory: c.memory,
    ...(c.net
      ? {
          net: {
            rxBytesPerSec: rate(p.net?.rxBytes, c.net.rxBytes),
            txBytesPerSec: rate(p.net?.txBytes, c.net.txBytes),
          },
        }
      : {}),
    block: {
      readBytesPerSec: rate(p.block.readBytes, c.block.readBytes),
      writeBytesPerSec: rate(p.block.writeBytes, c.block.writeBytes),
    },
    pids: c.pids,
  };
}
