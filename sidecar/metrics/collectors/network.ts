import { NotFoundError } from '../../../runtime/base/errors.js';
import { readOptional } from '../fsread.js';
import type { Collector } from '../types.js';

const COLUMNS = [
  // /proc/net/dev receive columns 0..7, transmit 8..15 (see proc(5)).
  [0, 'container_network_receive_bytes_total'],
  [1, 'container_network_receive_packets_total'],
  [2, 'container_network_receive_errors_total'],
  [3, 'container_network_receive_packets_dropped_total'],
  [8, 'container_network_transmit_bytes_total'],
  [9, 'container_network_transmit_packets_total'],
  [10, 'container_network_transmit_errors_total'],
  [11, 'container_network_transmit_packets_dropped_total'],
] as const;

export interface InterfaceCounters {
  interface: string;
  values: number[];
}

/** Parses /proc/<pid>/net/dev, skipping the header lines and loopback. */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || name === 'lo' || name.includes('|')) continue;
    const values = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (values.length < 16 || values.some((v) => !Number.isFinite(v))) continue;
    out.push({ interface: name, values });
  }
  return out;
}

/**
 * Counters of the container's own network namespace: /proc/<pid>/net is the
 * view of the namespace that process lives in, so no setns is needed. A
 * host-network container reports the host's interfaces, as under cAdvisor.
 */
export const networkCollector: Collector = {
  name: 'network',
  scope: 'container',
  async update(t, emit) {
    const pid = t.container.pid;
    if (pid === undefined) return;
    const file = `${t.roots.proc}/${pid}/net/dev`;
    const text = await readOptional(file);
    if (text === undefined) throw new NotFoundError(`process ${pid} of ${t.container.name} is gone`);
    for (const iface of parseNetDev(text)) {
      for (const [col, metric] of COLUMNS) {
        emit(metric, { interface: iface.interface }, iface.values[col] ?? 0);
      }
    }
  },
};
