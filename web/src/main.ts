/**
 * The dashboard's entry: takes the session key from a login redirect,
 * checks the session (or says how to log in), starts the shared streams, and
 * routes `#/<view>/…?query` to a view. Each view returns its cleanup, run
 * before the next one draws.
 */
import 'uplot/dist/uPlot.min.css';
import '../app.css';
import { ApiError, logout, startSession, whenUnauthenticated } from './api.js';
import { fill, h } from './dom.js';
import { sessionKey, takeKeyFromFragment } from './session-key.js';
import { Store } from './store.js';
import { agentView } from './views/agent.js';
import { containerView } from './views/container.js';
import { containersView } from './views/containers.js';
import { eventsView } from './views/events.js';
import { logsView } from './views/logs.js';
import { projectsView } from './views/projects.js';
import { servicesView } from './views/services.js';
import type { View } from './views/view.js';
import { whenStreamDropped } from './ws.js';

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

/** What the page shows instead of the views when it cannot use the agent: why, and how to log in again. */
function loginNeeded(content: HTMLElement, why: string): void {
  document.title = 'berth · log in';
  fill(
    content,
    h('h1', null, 'Log in'),
    h('p', { 'data-login-needed': '1' }, why),
    h(
      'p',
      null,
      'Run ',
      h('code', null, 'berth dashboard-url'),
      ' on the host for a new login link and open it in this browser (or the link the agent printed at start, ',
      h('code', null, 'login  http://…/login?token=…'),
      ', if it is still unused).',
    ),
  );
}

const SESSION_ENDED =
  'The session has ended (it expired, was logged out, or the agent restarted), or this page holds the key of another session.';

async function main(): Promise<void> {
  // Before anything reads the hash as a route: a login redirect's `#k=KEY` leaves the address bar here.
  takeKeyFromFragment();
  const content = h('main', { id: 'content', tabindex: -1 });
  const links = NAV.map(([k, label]) => h('a', { href: `#/${k}`, 'data-nav': k }, label));
  const streamDot = h('span', { class: 'stream-dot', title: 'live streams' });
  const logoutButton = h(
    'button',
    {
      type: 'button',
      class: 'logout',
      onclick: () => {
        // The key is forgotten even when the agent cannot be reached; then the page says how to log in.
        void logout()
          .catch(() => undefined)
          .then(() => location.reload());
      },
    },
    'Log out',
  );
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
      logoutButton,
    ),
    content,
  );
  if (sessionKey() === undefined) {
    // No request at all: every API call would be refused without the key.
    logoutButton.hidden = true;
    loginNeeded(
      content,
      "This browser does not hold this dashboard's session key (its storage was cleared, or this is another browser or profile): the key is handed to a page only by its login link.",
    );
    return;
  }
  const store = new Store();
  // The list and the session check go out together: the first view is one round trip away.
  const listed = store.refresh();
  try {
    await startSession();
  } catch (err) {
    logoutButton.hidden = true;
    loginNeeded(
      content,
      err instanceof ApiError && err.status === 401
        ? SESSION_ENDED
        : `The agent did not answer: ${err instanceof Error ? err.message : String(err)}.`,
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
  // A 401 or a dropped stream once the page runs: the session may have ended (logout in another
  // tab, expiry, a restart). Another tab's login replaces the cookie a moment before it stores the
  // new key, so ask a second later before saying so; then stop everything rather than retry for nothing.
  let checking = false;
  const checkSession = () => {
    if (checking) return;
    checking = true;
    window.setTimeout(() => {
      startSession().then(
        () => {
          checking = false;
        },
        (err: unknown) => {
          if (!(err instanceof ApiError && err.status === 401)) {
            checking = false;
            return;
          }
          window.removeEventListener('hashchange', show);
          cleanup();
          store.stop();
          logoutButton.hidden = true;
          streamDot.className = 'stream-dot down';
          loginNeeded(content, SESSION_ENDED);
        },
      );
    }, 1000);
  };
  whenUnauthenticated(checkSession);
  whenStreamDropped(checkSession);
  // The first view with data: what the load-time figure measures (performance mark, data-ready).
  await listed;
  requestAnimationFrame(() => {
    performance.mark('berth:first-view');
    document.body.dataset.ready = '1';
  });
}

void main();
