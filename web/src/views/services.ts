/**
 * Services: the containers grouped by the service they belong to (Compose
 * service, else Registrator's SERVICE_NAME, else berth.lb.*), each instance
 * with its address, health and, where the agent reports it, its HAProxy
 * server state (UP, DRAIN, MAINT, DOWN) and sessions
 * (GET /v1/dashboard/status).
 */
import { ApiError, get } from '../api.js';
import { fill, h } from '../dom.js';
import type { Store } from '../store.js';
import { COMPOSE_PROJECT, COMPOSE_SERVICE, type Container } from '../types.js';
import { addresses, containerHref, healthBadge, link, logsHref, stateBadge } from './common.js';
import type { View } from './view.js';

/** GET /v1/dashboard/status (src/api/dashboard-status.ts). */
export interface DashboardStatus {
  catalog: {
    kind: 'local' | 'consul';
    stale: boolean;
    services: Array<{
      name: string;
      instances: Array<{
        id: string;
        address: string;
        port: number;
        node: string;
        health: string;
        containerId?: string;
      }>;
    }>;
  };
  haproxy: {
    running: boolean;
    error?: string;
    backends: Array<{
      name: string;
      servers: Array<{
        name: string;
        address: string;
        state: 'up' | 'down' | 'drain' | 'maint';
        status: string;
        sessions: number;
        containerId?: string;
      }>;
    }>;
  };
  logShipping: { enabled: boolean; backlogRecords?: number; spoolBytes?: number; containers?: number };
}

export function serviceOf(c: Container): string | undefined {
  const l = c.labels;
  if (l[COMPOSE_SERVICE])
    return l[COMPOSE_PROJECT] ? `${l[COMPOSE_PROJECT]}/${l[COMPOSE_SERVICE]}` : l[COMPOSE_SERVICE];
  if (l.SERVICE_NAME) return l.SERVICE_NAME;
  const lb = Object.keys(l).find((k) => k.startsWith('berth.lb.'));
  return lb ? c.name.replace(/[-_.]\d+$/, '') : undefined;
}

/** Reads the agent status; undefined with the reason when this agent has no such route. */
export async function readStatus(): Promise<{ status?: DashboardStatus; error?: string }> {
  try {
    return { status: await get<DashboardStatus>('/v1/dashboard/status') };
  } catch (err) {
    return { error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) };
  }
}

export const servicesView: View = (root, _params, store: Store) => {
  const list = h('div', { class: 'services' });
  const note = h('p', { class: 'muted' });
  fill(root, h('h1', null, 'Services'), note, list);
  let status: DashboardStatus | undefined;
  let gone = false;
  const serverState = (c: Container) => {
    const out: string[] = [];
    for (const b of status?.haproxy?.backends ?? []) {
      for (const s of b.servers) {
        if (s.containerId === c.id)
          out.push(`${s.state.toUpperCase()}, ${s.sessions} sessions (${b.name}/${s.name})`);
      }
    }
    return out;
  };
  const catalogHealth = (c: Container) => {
    const out: string[] = [];
    for (const s of status?.catalog?.services ?? []) {
      for (const i of s.instances) {
        if (i.containerId === c.id) out.push(`${s.name} ${i.address}:${i.port} ${i.health}`);
      }
    }
    return out;
  };
  const draw = () => {
    const groups = new Map<string, Container[]>();
    for (const c of store.containers) {
      const s = serviceOf(c);
      if (!s) continue;
      const g = groups.get(s) ?? [];
      g.push(c);
      groups.set(s, g);
    }
    if (groups.size === 0) {
      fill(
        list,
        h('p', null, 'No services: containers with Compose, SERVICE_NAME or berth.lb.* labels show here.'),
      );
      return;
    }
    fill(
      list,
      ...[...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, cs]) => {
          const running = cs.filter((c) => c.state === 'running').length;
          const [project, service] = name.includes('/') ? name.split('/') : [undefined, undefined];
          const logs =
            project && service
              ? logsHref({ project, service })
              : logsHref({ container: cs.map((c) => c.name) });
          return h(
            'section',
            { class: 'service', 'data-service': name },
            h(
              'h2',
              null,
              name,
              ' ',
              h('span', { class: 'muted' }, `${running}/${cs.length} running`),
              ' ',
              link(logs, 'Logs', `Logs of ${name}`),
            ),
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ...['Instance', 'State', 'Health', 'Address', 'Catalog', 'HAProxy'].map((t) =>
                    h('th', { scope: 'col' }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                null,
                ...cs
                  .sort((a, b) => a.name.localeCompare(b.name))
                  .map((c) =>
                    h(
                      'tr',
                      null,
                      h(
                        'th',
                        { scope: 'row', 'data-label': 'Instance' },
                        link(containerHref(c.name), c.name),
                      ),
                      h('td', { 'data-label': 'State' }, stateBadge(c.state)),
                      h('td', { 'data-label': 'Health' }, healthBadge(c.health)),
                      h('td', { 'data-label': 'Address', class: 'mono' }, addresses(c)),
                      h('td', { 'data-label': 'Catalog' }, catalogHealth(c).join('; ') || '–'),
                      h(
                        'td',
                        { 'data-label': 'HAProxy', class: 'haproxy-state' },
                        serverState(c).join('; ') || '–',
                      ),
                    ),
                  ),
              ),
            ),
          );
        }),
    );
  };
  const poll = async () => {
    const r = await readStatus();
    if (gone) return;
    status = r.status;
    note.textContent = r.error
      ? `Catalog and HAProxy state unavailable (${r.error}).`
      : `Catalog (${status?.catalog.kind ?? '?'}${status?.catalog.stale ? ', stale' : ''}) and HAProxy${
          status?.haproxy.error ? ` (${status.haproxy.error})` : ''
        } refresh every 2 s.`;
    draw();
  };
  void poll();
  const timer = window.setInterval(() => void poll(), 2000);
  draw();
  const off = store.on('containers', draw);
  return () => {
    gone = true;
    clearInterval(timer);
    off();
  };
};
