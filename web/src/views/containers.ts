/**
 * The containers view: a table of every container (state, health, image,
 * ports, addresses, live CPU and memory) with its actions, above live CPU and
 * memory charts of the running ones. When the agent observes (`--mode
 * observe|both`) each row says where the container comes from, a filter
 * keeps one source (`#/containers?source=docker`), and observed containers
 * offer no actions: berth does not run them (source.ts).
 */
import { containerAction } from '../actions.js';
import { bytes, fill, focusKey, h, restoreFocus } from '../dom.js';
import { isObserved, ownerOf, SOURCES } from '../source.js';
import type { Container, StatsEntry } from '../types.js';
import {
  addresses,
  containerHref,
  healthBadge,
  link,
  logsHref,
  ports,
  readOnlyNote,
  sourceBadge,
  stateBadge,
  statsCharts,
} from './common.js';
import type { View } from './view.js';

export function actionButtons(c: Container): HTMLElement {
  const logs = link(logsHref({ container: c.name }), 'Logs', `Logs of ${c.name}`);
  // The agent refuses these on a container it only observes: offer none, say what to use.
  if (isObserved(c)) return h('span', { class: 'actions' }, readOnlyNote(c), logs);
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
    logs,
  );
}

const COLUMNS = ['Name', 'State', 'Health', 'Image', 'Ports', 'Addresses', 'CPU', 'Memory', 'Actions'];

export const containersView: View = (root, params, store) => {
  /** The source shown ('' = all), kept in the address (`?source=`) so a reload or a link keeps it. */
  let source = params.get('source') ?? '';
  if (!(SOURCES as string[]).includes(source)) source = '';
  const sourceOf = () => new Map(store.containers.map((c) => [c.name, c.source]));
  let sources = sourceOf();
  const newCharts = () => statsCharts((n) => source === '' || sources.get(n) === source);
  let charts = newCharts();
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'containers' }, thead, tbody);
  const filter = h(
    'select',
    { id: 'source-filter' },
    h('option', { value: '' }, 'all'),
    ...SOURCES.map((s) => h('option', { value: s }, ownerOf(s).label)),
  );
  filter.value = source;
  const filterBar = h(
    'div',
    { class: 'filters', hidden: true },
    h('label', { for: 'source-filter' }, 'Source'),
    filter,
  );
  fill(root, h('h1', null, 'Containers'), filterBar, h('div', { class: 'table-wrap' }, table), charts.el);
  let withSource: boolean | undefined;
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
    sources = sourceOf();
    // Run mode looks as it always did: no Source column, no filter.
    const observing = store.observing;
    if (observing !== withSource) {
      withSource = observing;
      filterBar.hidden = !observing;
      const cols = observing ? [...COLUMNS.slice(0, 1), 'Source', ...COLUMNS.slice(1)] : COLUMNS;
      fill(thead, h('tr', null, ...cols.map((t) => h('th', { scope: 'col' }, t))));
    }
    // Each option says how many containers it keeps.
    for (const o of filter.options) {
      const n =
        o.value === ''
          ? store.containers.length
          : store.containers.filter((c) => c.source === o.value).length;
      o.textContent = `${o.value === '' ? 'all' : ownerOf(o.value).label} (${n})`;
    }
    const shown =
      observing && source !== '' ? store.containers.filter((c) => c.source === source) : store.containers;
    const rows = [...shown].sort((a, b) => a.name.localeCompare(b.name));
    if (rows.length === 0) {
      const what =
        store.containers.length > 0 && observing
          ? `No containers from ${ownerOf(source).label}.`
          : 'No containers.';
      fill(tbody, h('tr', null, h('td', { colspan: observing ? 10 : 9 }, what)));
      return;
    }
    fill(
      tbody,
      ...rows.map((c: Container) =>
        h(
          'tr',
          { 'data-name': c.name, 'data-source': c.source },
          h('th', { scope: 'row', 'data-label': 'Name' }, link(containerHref(c.name), c.name)),
          observing ? h('td', { 'data-label': 'Source' }, sourceBadge(c.source)) : null,
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
  filter.addEventListener('change', () => {
    source = filter.value;
    // Not a navigation: the view stays, focus stays on the filter.
    history.replaceState(null, '', `#/containers${source ? `?source=${encodeURIComponent(source)}` : ''}`);
    // The charts follow the filter from now on; series of the others go at once.
    const next = newCharts();
    charts.el.replaceWith(next.el);
    charts.destroy();
    charts = next;
    draw();
  });
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
