/**
 * The dashboard's entry: reads the session (or says how to log in), starts
 * the shared streams, and routes `#/<view>/…?query` to a view. Each view
 * returns its cleanup, run before the next one draws.
 */
import 'uplot/dist/uPlot.min.css';
import '../app.css';
import { ApiError, startSession } from './api.js';
import { fill, h } from './dom.js';
import { Store } from './store.js';
import { agentView } from './views/agent.js';
import { containerView } from './views/container.js';
import { containersView } from './views/containers.js';
import { eventsView } from './views/events.js';
import { logsView } from './views/logs.js';
import { projectsView } from './views/projects.js';
import { servicesView } from './views/services.js';
import type { View } from './views/view.js';

const NAV: Array<[string, string]> = [
  ['containers', 'Containers'],
  ['services', 'Services'],
  ['projects', 'Projects'],
  ['logs', 'Logs'],
  ['events', 'Events'],
  ['agent', 'Agent'],
];

const VIEWS: Record<string, View> = {
  containers: containersView,
  services: servicesView,
  projects: projectsView,
  logs: logsView,
  events: eventsView,
  agent: agentView,
};

function route(): { path: string[]; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [p = '', q = ''] = hash.split('?', 2);
  const path = p.split('/').filter(Boolean);
  return { path: path.length > 0 ? path : ['containers'], params: new URLSearchParams(q) };
}

async function main(): Promise<void> {
  const content = h('main', { id: 'content', tabindex: -1 });
  const links = NAV.map(([k, label]) => h('a', { href: `#/${k}`, 'data-nav': k }, label));
  const streamDot = h('span', { class: 'stream-dot', title: 'live streams' });
  document.body.replaceChildren(
    h(
      'a',
      {
        class: 'skip',
        href: '#content',
        onclick: (ev: Event) => {
          // The hash is the router's: move focus without navigating.
          ev.preventDefault();
          content.focus();
        },
      },
      'Skip to content',
    ),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'berth'),
      h('nav', { 'aria-label': 'Views' }, ...links),
      streamDot,
    ),
    content,
  );
  const store = new Store();
  // The list needs only the cookie: read it while the session's CSRF token is fetched.
  const listed = store.refresh();
  try {
    await startSession();
  } catch (err) {
    const why =
      err instanceof ApiError && err.status === 401
        ? 'This browser has no session with the agent.'
        : `The agent did not answer: ${err instanceof Error ? err.message : String(err)}.`;
    fill(
      content,
      h('h1', null, 'Log in'),
      h('p', null, why),
      h(
        'p',
        null,
        'Open the login URL the agent printed at start (',
        h('code', null, 'login  http://…/login?token=…'),
        '), or print a fresh one with ',
        h('code', null, 'berth dashboard-url'),
        '.',
      ),
    );
    return;
  }
  store.start();
  store.on('status', () => {
    const ok = store.streamState.events === 'open' && store.streamState.stats === 'open';
    streamDot.className = `stream-dot ${ok ? 'ok' : 'down'}`;
    streamDot.title = `events ${store.streamState.events}, stats ${store.streamState.stats}`;
  });
  let cleanup: () => void = () => undefined;
  const show = () => {
    cleanup();
    const { path, params } = route();
    const key = path[0] === 'containers' && path.length > 1 ? 'container' : (path[0] ?? 'containers');
    for (const a of links) {
      if (a.dataset.nav === path[0]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const view = key === 'container' ? containerView : VIEWS[key];
    if (!view) {
      fill(content, h('h1', null, 'Not found'), h('p', null, `No view ${path[0] ?? ''}.`));
      cleanup = () => undefined;
      return;
    }
    document.title = `berth · ${path.map(decodeURIComponent).join(' / ')}`;
    cleanup = view(content, params, store, path);
  };
  window.addEventListener('hashchange', show);
  show();
  // The first view with data: what the load-time figure measures (performance mark, data-ready).
  await listed;
  requestAnimationFrame(() => {
    performance.mark('berth:first-view');
    document.body.dataset.ready = '1';
  });
}

void main();
