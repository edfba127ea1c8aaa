import { join } from 'node:path';
import { messageOf } from '../../runtime/base/errors.js';
import type { Catalog } from '../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../sidecar/haproxy/config.js';
import { RuntimeApi } from '../../sidecar/haproxy/runtime-api.js';
import type { DashboardStatus } from '../api/dashboard-status.js';
import type { AgentConfig } from './config.js';

/** How long one status read waits on HAProxy or /metrics: the page polls every 2 s. */
const READ_TIMEOUT_MS = 1500;

/**
 * `GET /v1/dashboard/status` for this agent: the catalog's view, HAProxy's
 * own word on its backends (`show stat` over the same socket the HAProxy
 * sidecar drives: status and current sessions per server; free slots left
 * out) and the log shipping backlog from the agent's /metrics (the gauges
 * the shipping pipeline exports). Read-only and read at call time, so it
 * needs no hook into the sidecars; each part that cannot be read says why
 * instead of failing the whole answer.
 */
export function dashboardStatusReader(
  cfg: AgentConfig,
  catalog: Catalog,
  endpoints: Record<string, string>,
): () => Promise<DashboardStatus> {
  const lb =
    cfg.haproxy === 'off'
      ? undefined
      : resolveHaproxyOptions(
          [{ stateDir: join(cfg.stateRoot, 'haproxy') }, cfg.sections.haproxy ?? {}, { mode: cfg.haproxy }],
          { env: process.env },
        );
  const api = lb
    ? new RuntimeApi({
        statsSocket: lb.statsSocket,
        masterSocket: lb.masterSocket,
        timeoutMs: READ_TIMEOUT_MS,
      })
    : undefined;
  return async () => {
    const view = catalog.view();
    const byService = new Map<string, DashboardStatus['catalog']['services'][number]['instances']>();
    const containerAt = new Map<string, string>();
    for (const i of view.instances) {
      const list = byService.get(i.service) ?? [];
      list.push({
        id: i.id,
        address: i.address,
        port: i.port,
        node: i.node,
        health: i.health,
        ...(i.containerId ? { containerId: i.containerId } : {}),
      });
      byService.set(i.service, list);
      if (i.containerId) containerAt.set(`${i.address}:${i.port}`, i.containerId);
    }
    return {
      catalog: {
        kind: cfg.consul ? 'consul' : 'local',
        stale: view.stale,
        services: [...byService]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, instances]) => ({ name, instances })),
      },
      haproxy: await haproxyStatus(api, endpoints.haproxy, containerAt),
      logShipping: await shippingStatus(endpoints),
    };
  };
}

async function haproxyStatus(
  api: RuntimeApi | undefined,
  endpoint: string | undefined,
  containerAt: Map<string, string>,
): Promise<DashboardStatus['haproxy']> {
  if (!api) return { running: false, error: 'HAProxy is off (haproxy: off)', backends: [] };
  if (endpoint?.startsWith('not running')) return { running: false, error: endpoint, backends: [] };
  let text: string;
  try {
    text = await api.command('show stat -1 4 -1');
  } catch (err) {
    return { running: false, error: messageOf(err), backends: [] };
  }
  return { running: true, backends: parseServers(text, containerAt) };
}

/** `show stat` CSV → servers per backend (`be_*`), free slots (0.0.0.0:0) left out. */
export function parseServers(
  text: string,
  containerAt: Map<string, string>,
): DashboardStatus['haproxy']['backends'] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) return [];
  const cols = header.slice(2).split(',');
  const col = (f: string[], name: string) => f[cols.indexOf(name)] ?? '';
  const backends = new Map<string, DashboardStatus['haproxy']['backends'][number]['servers']>();
  for (const l of lines) {
    if (l.startsWith('#') || l.trim() === '') continue;
    const f = l.split(',');
    const backend = col(f, 'pxname');
    const server = col(f, 'svname');
    const addr = col(f, 'addr');
    if (!backend.startsWith('be_') || server === 'BACKEND' || server === 'FRONTEND') continue;
    if (addr === '' || addr.startsWith('0.0.0.0:')) continue;
    const list = backends.get(backend) ?? [];
    const containerId = containerAt.get(addr);
    list.push({
      name: server,
      address: addr,
      state: stateOf(col(f, 'status')),
      status: col(f, 'status'),
      sessions: Number(col(f, 'scur')) || 0,
      ...(containerId ? { containerId } : {}),
    });
    backends.set(backend, list);
  }
  return [...backends].map(([name, servers]) => ({ name, servers }));
}

/**
 * HAProxy's status column as one of four states: berth's servers carry no
 * HAProxy health check (the catalog's health decides), so "no check" is up;
 * "UP 1/3" and "DOWN 1/2" are transitions of a checked server.
 */
export function stateOf(status: string): 'up' | 'down' | 'drain' | 'maint' {
  const s = status.toUpperCase();
  if (s.startsWith('MAINT')) return 'maint';
  if (s.startsWith('DRAIN') || s.includes('NOLB')) return 'drain';
  if (s.startsWith('UP') || s === 'NO CHECK') return 'up';
  return 'down';
}

const GAUGES: Record<string, 'backlogRecords' | 'spoolBytes' | 'containers'> = {
  berth_logs_backlog_records: 'backlogRecords',
  berth_logs_spool_bytes: 'spoolBytes',
  berth_logs_containers: 'containers',
};

/** The shipping gauges from the agent's own /metrics (summed over their labels). */
async function shippingStatus(endpoints: Record<string, string>): Promise<DashboardStatus['logShipping']> {
  const logs = endpoints.logs;
  if (logs === undefined || logs.startsWith('not ')) return { enabled: false };
  const url = endpoints.metrics;
  if (!url?.startsWith('http')) return { enabled: true };
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    const text = await r.text();
    const out: DashboardStatus['logShipping'] = { enabled: true };
    for (const line of text.split('\n')) {
      const m = /^(berth_logs_(?:backlog_records|spool_bytes|containers))(?:\{[^}]*\})? (\S+)/.exec(line);
      const key = m ? GAUGES[m[1] as string] : undefined;
      if (m && key) out[key] = (out[key] ?? 0) + Number(m[2]);
    }
    return out;
  } catch {
    return { enabled: true };
  }
}
