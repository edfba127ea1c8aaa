/**
 * One container: its facts (state, health, image, limits, ports,
 * addresses, restarts, last health checks), live CPU and memory charts, its
 * actions, and its log tail below. An observed container (`--mode
 * observe|both`) is read-only: no actions, a note saying who manages it.
 */
import { ApiError, get, seg } from '../api.js';
import { bytes, fill, h } from '../dom.js';
import { isObserved, ownerOf } from '../source.js';
import type { Container, ContainerDetail } from '../types.js';
import {
  addresses,
  healthBadge,
  link,
  logsHref,
  ports,
  sourceBadge,
  stateBadge,
  statsCharts,
} from './common.js';
import { actionButtons } from './containers.js';
import { mountLogs } from './logs.js';
import type { View } from './view.js';

/** Limits from the inspected config (runtime/oci/types.ts RawResources: bytes, CFS quota/period). */
export function limits(d: ContainerDetail): string {
  const r = ((d.config as { resources?: Record<string, unknown> } | undefined)?.resources ?? {}) as {
    memory?: number;
    cpuQuota?: number;
    cpuPeriod?: number;
    cpusetCpus?: string;
    pidsLimit?: number;
  };
  const out: string[] = [];
  if (typeof r.memory === 'number' && r.memory > 0) out.push(`memory ${bytes(r.memory)}`);
  if (typeof r.cpuQuota === 'number' && r.cpuQuota > 0 && r.cpuPeriod)
    out.push(`cpus ${+(r.cpuQuota / r.cpuPeriod).toFixed(2)}`);
  if (r.cpusetCpus) out.push(`cpuset ${r.cpusetCpus}`);
  if (typeof r.pidsLimit === 'number' && r.pidsLimit > 0) out.push(`pids ${r.pidsLimit}`);
  return out.length > 0 ? out.join(', ') : 'none';
}

export const containerView: View = (root, _params, store, path) => {
  const name = decodeURIComponent(path[1] ?? '');
  const facts = h('dl', { class: 'facts' });
  const actions = h('div', { class: 'detail-actions' });
  const charts = statsCharts((n) => n === name);
  const logsBox = h('div', { class: 'detail-logs' });
  fill(
    root,
    h('h1', null, name),
    actions,
    facts,
    charts.el,
    h('h2', null, 'Logs ', link(logsHref({ container: name }), 'open full viewer')),
    logsBox,
  );
  let gone = false;
  const draw = async () => {
    let d: ContainerDetail;
    try {
      d = await get<ContainerDetail>(`/v1/containers/${seg(name)}`);
    } catch (err) {
      if (gone) return;
      fill(facts, h('p', { class: 'error' }, err instanceof ApiError ? err.message : String(err)));
      return;
    }
    if (gone) return;
    const row = (k: string, v: Node | string) => [h('dt', null, k), h('dd', null, v)];
    const healthLog = Array.isArray(d.healthLog) ? (d.healthLog as Array<Record<string, unknown>>) : [];
    const lastCheck = healthLog.at(-1);
    fill(
      facts,
      ...(store.observing || isObserved(d) ? row('Source', sourceBadge(d.source)) : []),
      ...row('State', stateBadge(d.state)),
      ...row('Health', healthBadge(d.health)),
      ...row('Image', d.image),
      ...row('Id', d.id.slice(0, 12)),
      // An observed container's config is not berth's to read: its limits are unknown, not none.
      ...row('Limits', isObserved(d) && !d.config ? '–' : limits(d)),
      ...row('Ports', ports(d.ports)),
      ...row('Addresses', addresses(d as Container)),
      ...row('Restarts', String(d.restartCount)),
      ...row('Started', d.startedAt ?? '–'),
      ...(d.state !== 'running' && d.exitCode !== undefined ? row('Exit code', String(d.exitCode)) : []),
      ...(lastCheck ? row('Last health check', JSON.stringify(lastCheck)) : []),
    );
    const owner = ownerOf(d.source);
    // Instead of actions (the agent refuses them), who manages it and what to use; its logs are below.
    fill(
      actions,
      isObserved(d)
        ? h(
            'p',
            { class: 'readonly-note', 'data-readonly': d.source },
            `This container is observed, read-only: managed by ${owner.manager}. berth does not stop, start or restart it: use ${owner.tool}.`,
          )
        : actionButtons(d),
    );
  };
  void draw();
  const logs = mountLogs(logsBox, new URLSearchParams({ container: name }), { compact: true, store });
  const offs = [
    store.on('containers', () => void draw()),
    store.on('stats', () => {
      if (store.stats) charts.push(store.stats);
    }),
  ];
  return () => {
    gone = true;
    for (const off of offs) off();
    charts.destroy();
    logs();
  };
};
