/**
 * The containers view: a table of every container (state, health, image,
 * ports, addresses, live CPU and memory) with its actions, above live CPU and
 * memory charts of the running ones.
 */
import { containerAction } from '../actions.js';
import { bytes, fill, focusKey, h, restoreFocus } from '../dom.js';
import type { Container, StatsEntry } from '../types.js';
import {
  addresses,
  containerHref,
  healthBadge,
  link,
  logsHref,
  ports,
  stateBadge,
  statsCharts,
} from './common.js';
import type { View } from './view.js';

export function actionButtons(c: Container): HTMLElement {
  const running = c.state === 'running' || c.state === 'restarting' || c.state === 'paused';
  const btn = (verb: 'stop' | 'start' | 'restart', label: string) =>
    h(
      'button',
      {
        type: 'button',
        class: `act act-${verb}`,
        'data-action': verb,
        'aria-label': `${label} ${c.name}`,
        onclick: () => void containerAction(c.name, verb),
      },
      label,
    );
  return h(
    'span',
    { class: 'actions' },
    running ? btn('stop', 'Stop') : btn('start', 'Start'),
    btn('restart', 'Restart'),
    link(logsHref({ container: c.name }), 'Logs', `Logs of ${c.name}`),
  );
}

export const containersView: View = (root, _params, store) => {
  const charts = statsCharts();
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'containers' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Name', 'State', 'Health', 'Image', 'Ports', 'Addresses', 'CPU', 'Memory', 'Actions'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    tbody,
  );
  fill(root, h('h1', null, 'Containers'), h('div', { class: 'table-wrap' }, table), charts.el);
  const statsOf = () => new Map((store.stats?.containers ?? []).map((s) => [s.name, s]));
  const cells = (s: StatsEntry | undefined) => [
    h('td', { class: 'num', 'data-label': 'CPU' }, s ? `${(s.cpu * 100).toFixed(1)} %` : '–'),
    h(
      'td',
      { class: 'num', 'data-label': 'Memory' },
      s ? `${bytes(s.memory.workingSet ?? s.memory.usage)} / ${bytes(s.memory.limit)}` : '–',
    ),
  ];
  const draw = () => {
    const focused = tbody.contains(document.activeElement) ? focusKey(document.activeElement) : undefined;
    const stats = statsOf();
    const rows = [...store.containers].sort((a, b) => a.name.localeCompare(b.name));
    if (rows.length === 0) {
      fill(tbody, h('tr', null, h('td', { colspan: 9 }, 'No containers.')));
      return;
    }
    fill(
      tbody,
      ...rows.map((c) =>
        h(
          'tr',
          { 'data-name': c.name },
          h('th', { scope: 'row', 'data-label': 'Name' }, link(containerHref(c.name), c.name)),
          h('td', { 'data-label': 'State' }, stateBadge(c.state)),
          h('td', { 'data-label': 'Health' }, healthBadge(c.health)),
          h('td', { 'data-label': 'Image', class: 'mono' }, c.image),
          h('td', { 'data-label': 'Ports', class: 'mono' }, ports(c.ports)),
          h('td', { 'data-label': 'Addresses', class: 'mono' }, addresses(c)),
          ...cells(stats.get(c.name)),
          h('td', { 'data-label': 'Actions' }, actionButtons(c)),
        ),
      ),
    );
    restoreFocus(focused, tbody);
  };
  const drawStats = () => {
    const stats = statsOf();
    for (const tr of tbody.querySelectorAll<HTMLTableRowElement>('tr[data-name]')) {
      const [cpu, mem] = cells(stats.get(tr.dataset.name ?? ''));
      const tds = tr.querySelectorAll('td.num');
      if (cpu && mem && tds.length === 2) {
        (tds[0] as HTMLElement).replaceWith(cpu);
        (tds[1] as HTMLElement).replaceWith(mem);
      }
    }
  };
  draw();
  const offs = [
    store.on('containers', draw),
    store.on('stats', () => {
      if (store.stats) charts.push(store.stats);
      drawStats();
    }),
  ];
  return () => {
    for (const off of offs) off();
    charts.destroy();
  };
};
