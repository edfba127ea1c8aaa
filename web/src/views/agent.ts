/**
 * The agent: version, where each endpoint listens (GET /v1/info), the
 * state of the page's own streams, and the sidecars' status where the agent
 * reports it (GET /v1/dashboard/status: catalog, DNS, HAProxy, log shipping
 * backlog).
 */
import { ApiError, get } from '../api.js';
import { bytes, fill, h } from '../dom.js';
import { type DashboardStatus, readStatus } from './services.js';
import type { View } from './view.js';

interface Info {
  endpoints: Record<string, string>;
  [k: string]: unknown;
}

function table(rows: Array<[string, string]>): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    ...rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', { class: 'mono' }, v)]),
  );
}

export const agentView: View = (root, _params, store) => {
  const version = h('p', { class: 'muted' });
  const endpoints = h('div');
  const streams = h('div');
  const sidecars = h('div');
  fill(
    root,
    h('h1', null, 'Agent'),
    version,
    h('h2', null, 'Endpoints'),
    endpoints,
    h('h2', null, 'Sidecars'),
    sidecars,
    h('h2', null, 'This page'),
    streams,
  );
  let gone = false;
  const drawStreams = () =>
    fill(
      streams,
      table([
        ['events stream', store.streamState.events],
        ['stats stream', store.streamState.stats],
      ]),
    );
  const load = async () => {
    try {
      const [info, v] = await Promise.all([
        get<Info>('/v1/info'),
        get<Record<string, string>>('/v1/version'),
      ]);
      if (gone) return;
      version.textContent = `berth ${v.berth ?? '?'} on Node ${v.node ?? '?'}, API ${v.api ?? '?'}`;
      fill(endpoints, table(Object.entries(info.endpoints ?? {})));
    } catch (err) {
      fill(endpoints, h('p', { class: 'error' }, err instanceof ApiError ? err.message : String(err)));
    }
    const s = await readStatus();
    if (gone) return;
    if (s.error) fill(sidecars, h('p', { class: 'muted' }, `Not reported by this agent (${s.error}).`));
    else {
      const st = s.status as DashboardStatus;
      const instances = st.catalog.services.reduce((n, x) => n + x.instances.length, 0);
      const servers = st.haproxy.backends.reduce((n, b) => n + b.servers.length, 0);
      const ship = st.logShipping;
      const rows: Array<[string, string]> = [
        [
          'catalog',
          `${st.catalog.kind}${st.catalog.stale ? ' (stale)' : ''}: ${st.catalog.services.length} services, ${instances} instances`,
        ],
        [
          'haproxy',
          st.haproxy.running
            ? `${st.haproxy.backends.length} backends, ${servers} servers`
            : `not running: ${st.haproxy.error ?? ''}`,
        ],
        [
          'log shipping',
          ship.enabled
            ? `backlog ${ship.backlogRecords ?? '?'} records, spool ${bytes(ship.spoolBytes)}, ${ship.containers ?? '?'} containers`
            : 'off (no Fluentd receiver named)',
        ],
      ];
      fill(sidecars, table(rows));
    }
  };
  void load();
  drawStreams();
  const timer = window.setInterval(() => void load(), 5000);
  const off = store.on('status', drawStreams);
  return () => {
    gone = true;
    clearInterval(timer);
    off();
  };
};
