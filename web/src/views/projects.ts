/**
 * Compose projects (GET /v1/projects, GET /v1/projects/:name): each service
 * with its desired/running/healthy replicas, each replica (old or new
 * revision), and a rollout in progress: old/new counts as a bar and which
 * replica it waits on. Refreshed on every container and rollout event, and
 * every 2 s while a rollout runs. Scale and roll back from here.
 */
import { rollbackService, scaleService } from '../actions.js';
import { ApiError, get } from '../api.js';
import { fill, focusKey, h, restoreFocus } from '../dom.js';
import type { ProjectStatus, ServiceStatus } from '../types.js';
import { containerHref, healthBadge, link, logsHref, stateBadge } from './common.js';
import type { View } from './view.js';

function rolloutBox(s: ServiceStatus): HTMLElement | null {
  const r = s.rollout;
  if (!r) return null;
  const total = Math.max(1, r.oldCount + r.newCount);
  return h(
    'div',
    { class: `rollout phase-${r.phase}`, 'data-phase': r.phase, role: 'status' },
    h('strong', null, r.kind === 'rollback' ? 'Rollback ' : 'Rollout ', r.phase),
    ' ',
    h('span', { class: 'counts' }, `old ${r.oldCount} · new ${r.newCount}`),
    h(
      'div',
      { class: 'bar', 'aria-hidden': 'true' },
      h('span', { class: 'new', style: `width:${(100 * r.newCount) / total}%` }),
      h('span', { class: 'old', style: `width:${(100 * r.oldCount) / total}%` }),
    ),
    r.waiting ? h('p', { class: 'waiting' }, `waiting on ${r.waiting.name} (${r.waiting.for})`) : null,
    r.failures > 0 ? h('p', null, `${r.failures} failures`) : null,
    r.reason ? h('p', { class: 'error' }, r.reason) : null,
  );
}

function serviceSection(p: ProjectStatus, s: ServiceStatus, redraw: () => void): HTMLElement {
  const current = s.configHash;
  return h(
    'section',
    { class: 'service', 'data-service': s.name, 'data-name': `${p.name}/${s.name}` },
    h(
      'h3',
      null,
      s.name,
      ' ',
      h('span', { class: 'muted replica-counts' }, `${s.running}/${s.desired} running, ${s.healthy} healthy`),
    ),
    h(
      'div',
      { class: 'detail-actions' },
      h(
        'button',
        {
          type: 'button',
          'data-action': 'scale',
          'aria-label': `Scale ${s.name}`,
          onclick: () => void scaleService(p.name, s.name, s.desired).then((ok) => ok && redraw()),
        },
        'Scale',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'rollback',
          'aria-label': `Roll back ${s.name}`,
          onclick: () => void rollbackService(p.name, s.name).then((ok) => ok && redraw()),
        },
        'Roll back',
      ),
      link(logsHref({ project: p.name, service: s.name }), 'Logs', `Logs of ${s.name}`),
    ),
    h('p', { class: 'mono muted' }, s.image, s.frontend ? ` · frontend :${s.frontend.port}` : ''),
    rolloutBox(s),
    s.lastError ? h('p', { class: 'error' }, s.lastError.message) : null,
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h('tr', null, ...['Replica', 'State', 'Health', 'Revision'].map((t) => h('th', { scope: 'col' }, t))),
      ),
      h(
        'tbody',
        null,
        ...[...s.replicas]
          .sort((a, b) => a.index - b.index)
          .map((r) =>
            h(
              'tr',
              { 'data-replica': r.name },
              h('th', { scope: 'row', 'data-label': 'Replica' }, link(containerHref(r.name), r.name)),
              h('td', { 'data-label': 'State' }, stateBadge(r.state)),
              h('td', { 'data-label': 'Health' }, healthBadge(r.health)),
              h(
                'td',
                { 'data-label': 'Revision', class: 'mono' },
                r.configHash === current ? 'new' : 'old',
                ' ',
                h('span', { class: 'muted' }, r.configHash.slice(0, 8)),
              ),
            ),
          ),
      ),
    ),
  );
}

export const projectsView: View = (root, _params, store) => {
  const body = h('div', { class: 'projects' });
  fill(root, h('h1', null, 'Projects'), body);
  let gone = false;
  let busy = false;
  let again = false;
  let rolling = false;
  const draw = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      // GET /v1/projects answers each project's full status (src/deploy/types.ts ProjectStatus).
      const projects = await get<ProjectStatus[]>('/v1/projects');
      if (gone) return;
      rolling = projects.some((p) => p.services.some((s) => s.rollout && s.rollout.phase === 'running'));
      const focused = body.contains(document.activeElement) ? focusKey(document.activeElement) : undefined;
      if (projects.length === 0) {
        fill(body, h('p', null, 'No projects. `berth up -f compose.yaml` brings one up.'));
      } else {
        fill(
          body,
          ...projects.map((p) =>
            h(
              'section',
              { class: 'project', 'data-project': p.name },
              h(
                'h2',
                null,
                p.name,
                ' ',
                h('span', { class: 'muted' }, p.origin === 'dir' ? '(watched directory)' : ''),
              ),
              p.lastError ? h('p', { class: 'error' }, p.lastError.message) : null,
              ...p.services.map((s) => serviceSection(p, s, () => void draw())),
            ),
          ),
        );
      }
      restoreFocus(focused, body);
    } catch (err) {
      if (!gone)
        fill(
          body,
          h('p', { class: 'error' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
        );
    } finally {
      busy = false;
      if (again && !gone) {
        again = false;
        void draw();
      }
    }
  };
  void draw();
  const offs = [
    store.on('containers', () => void draw()),
    store.on('events', () => {
      const last = store.events.at(-1);
      if (last && !last.topic.startsWith('container.')) void draw();
    }),
  ];
  const timer = window.setInterval(() => {
    if (rolling) void draw();
  }, 1000);
  return () => {
    gone = true;
    clearInterval(timer);
    for (const off of offs) off();
  };
};
