/** Recent events from /v1/ws/events (the last EVENTS_KEPT of them), newest first. */
import { fill, h } from '../dom.js';
import { EVENTS_KEPT } from '../store.js';
import type { EventEnvelope } from '../types.js';
import { containerHref, link } from './common.js';
import type { View } from './view.js';

/** The events a view shows at most (the newest). */
const SHOWN = 200;

function subject(env: EventEnvelope): Node | string {
  const c = env.event.container;
  if (c?.name) return link(containerHref(c.name), c.name);
  if (typeof env.event.ref === 'string') return env.event.ref;
  const svc = env.event.service ?? env.event.project;
  return typeof svc === 'string' ? svc : '';
}

function detail(env: EventEnvelope): string {
  const e = env.event;
  const parts: string[] = [];
  if (typeof e.exitCode === 'number') parts.push(`exit ${e.exitCode}`);
  if (typeof e.signal === 'string') parts.push(e.signal);
  if (e.container?.image) parts.push(e.container.image);
  for (const k of ['phase', 'oldCount', 'newCount', 'reason'] as const)
    if (e[k] !== undefined) parts.push(`${k} ${String(e[k])}`);
  return parts.join(' · ');
}

export function eventRows(events: readonly EventEnvelope[], max: number): HTMLElement[] {
  return events
    .slice(-max)
    .reverse()
    .map((env) =>
      h(
        'tr',
        { 'data-topic': env.topic },
        h('td', { class: 'mono', 'data-label': 'Time' }, env.time.slice(11, 19)),
        h(
          'td',
          { 'data-label': 'Topic' },
          h('span', { class: `topic topic-${env.topic.replace(/\W/g, '-')}` }, env.topic),
        ),
        h('td', { 'data-label': 'Subject' }, subject(env)),
        h('td', { 'data-label': 'Detail' }, detail(env)),
      ),
    );
}

export const eventsView: View = (root, _params, store) => {
  const tbody = h('tbody');
  fill(
    root,
    h('h1', null, 'Events'),
    h('p', { class: 'muted' }, `Since this page opened (the last ${EVENTS_KEPT} kept).`),
    h(
      'table',
      { class: 'events' },
      h(
        'thead',
        null,
        h('tr', null, ...['Time', 'Topic', 'Subject', 'Detail'].map((t) => h('th', { scope: 'col' }, t))),
      ),
      tbody,
    ),
  );
  const draw = () => {
    const rows = eventRows(store.events, SHOWN);
    if (rows.length === 0) fill(tbody, h('tr', null, h('td', { colspan: 4 }, 'No events yet.')));
    else fill(tbody, ...rows);
  };
  draw();
  return store.on('events', draw);
};
