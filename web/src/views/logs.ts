/**
 * The log viewer: one merged pane (every selected container, a prefix per
 * replica) or panes side by side, a live tail over /v1/ws/logs, plain or
 * regex search that keeps only matching lines (or just highlights them),
 * pause/resume, jump to a time (within what the page holds, or reloaded from
 * the agent from that time on), and a download of what is shown.
 */
import { ApiError, ndjson, seg } from '../api.js';
import { fill, h } from '../dom.js';
import type { LogRecord } from '../logs/entry.js';
import { entryText } from '../logs/entry.js';
import { LogModel } from '../logs/model.js';
import { compileSearch, isSearchError, type SearchMode } from '../logs/search.js';
import { LogPaneView } from '../logs/view.js';
import { isObserved } from '../source.js';
import type { Store } from '../store.js';
import { COMPOSE_PROJECT, COMPOSE_SERVICE } from '../types.js';
import { openStream, type Stream } from '../ws.js';
import type { View } from './view.js';

/** Lines asked for when a tail opens (per container): enough context, quick to show. */
const INITIAL_TAIL = 200;

interface Pane {
  view: LogPaneView;
  /** What the pane streams: its selection less the containers whose logs the agent refused. */
  selection: URLSearchParams;
  /** Nothing left to stream (every container refused): no live stream, no history. */
  empty?: boolean;
  live: Stream;
  history?: Stream;
  lastTime?: string;
}

function selectionLabel(sel: URLSearchParams): string {
  const parts = [
    ...sel.getAll('container'),
    ...(sel.get('project') ? [`project ${sel.get('project')}`] : []),
    ...(sel.get('service') ? [`service ${sel.get('service')}`] : []),
  ];
  return parts.join(', ') || 'nothing selected';
}

/** The selections of the panes: one merged, or one per container (service and project resolved now). */
function paneSelections(params: URLSearchParams, store: Store | undefined): URLSearchParams[] {
  const sel = new URLSearchParams();
  for (const k of ['container', 'service', 'project'])
    for (const v of params.getAll(k)) if (v) sel.append(k, v);
  if (params.get('layout') !== 'split') return [sel];
  const names = new Set(sel.getAll('container'));
  const project = sel.get('project');
  const service = sel.get('service');
  if ((project || service) && store) {
    for (const c of store.containers) {
      if (project && c.labels[COMPOSE_PROJECT] !== project) continue;
      if (service && c.labels[COMPOSE_SERVICE] !== service) continue;
      names.add(c.name);
    }
  }
  return [...names].map((n) => new URLSearchParams({ container: n }));
}

/**
 * Why the agent serves no logs of container `name` (its error's message,
 * which names the reason), or undefined when it serves them. Asked with one
 * line over HTTP before a WebSocket is opened for a container the page does
 * not know as berth's own (an observed one): a browser is never told why an
 * upgrade was refused, and would retry it for ever.
 */
async function logsRefusal(name: string): Promise<string | undefined> {
  try {
    const recs = await ndjson<{ error?: { message?: string } }>(`/v1/containers/${seg(name)}/logs?tail=1`, 2);
    const bad = recs.find((r) => r.error);
    return bad ? (bad.error?.message ?? 'the agent ended the logs with an error') : undefined;
  } catch (err) {
    return err instanceof ApiError ? err.message : String(err);
  }
}

/** Mounts the viewer into `root`; returns its cleanup. */
export function mountLogs(
  root: HTMLElement,
  params: URLSearchParams,
  opts: { compact?: boolean; store?: Store } = {},
): () => void {
  const selections = paneSelections(params, opts.store);
  const search = h('input', {
    type: 'search',
    id: 'log-search',
    placeholder: 'Search (plain text)',
    'aria-label': 'Search the logs',
    autocomplete: 'off',
  });
  const mode = h(
    'select',
    { id: 'log-mode', 'aria-label': 'Search mode' },
    h('option', { value: 'plain' }, 'plain'),
    h('option', { value: 'regex' }, 'regex'),
  );
  const only = h('input', { type: 'checkbox', id: 'log-only', checked: true });
  const searchError = h('span', { class: 'search-error', role: 'alert' });
  const pause = h('button', { type: 'button', id: 'log-pause', 'aria-pressed': 'false' }, 'Pause');
  const when = h('input', {
    type: 'datetime-local',
    step: '0.001',
    id: 'log-time',
    'aria-label': 'Jump to a time',
  });
  const jump = h('button', { type: 'button', id: 'log-jump' }, 'Jump');
  const download = h('button', { type: 'button', id: 'log-download' }, 'Download');
  const banner = h('div', { class: 'log-banner', hidden: true });
  const panesEl = h('div', { class: `log-panes${selections.length > 1 ? ' split' : ''}` });
  const layoutLink =
    !opts.compact && (params.getAll('container').length > 1 || params.get('service') || params.get('project'))
      ? h(
          'a',
          {
            href: `#/logs?${(() => {
              const p = new URLSearchParams(params);
              p.set('layout', params.get('layout') === 'split' ? 'merged' : 'split');
              return p;
            })()}`,
          },
          params.get('layout') === 'split' ? 'Merge into one' : 'Side by side',
        )
      : null;
  const toolbar = h(
    'div',
    { class: 'log-toolbar', role: 'toolbar', 'aria-label': 'Log tools' },
    search,
    mode,
    h('label', { class: 'check' }, only, ' only matches'),
    searchError,
    pause,
    h('span', { class: 'jump' }, when, jump),
    download,
    layoutLink,
  );
  fill(
    root,
    opts.compact ? null : h('h1', null, 'Logs: ', selectionLabel(new URLSearchParams(params))),
    toolbar,
    banner,
    panesEl,
  );
  if (selections.length === 0 || selections.every((s) => [...s.keys()].length === 0)) {
    fill(
      panesEl,
      h('p', null, 'Choose a container, service or project: open logs from the containers or services view.'),
    );
    return () => undefined;
  }

  let unmounted = false;
  const NO_STREAM: Stream = { close: () => undefined };
  /** Containers of `sel` the page does not know as berth's: their logs are asked for first. */
  const unknown = (sel: URLSearchParams) =>
    sel.getAll('container').filter((n) => {
      const c = opts.store?.containers.find((x) => x.name === n || x.id === n);
      return c === undefined || isObserved(c);
    });
  const panes: Pane[] = selections.map((sel) => {
    const merged = sel.getAll('container').length !== 1 || sel.has('service') || sel.has('project');
    const view = new LogPaneView(new LogModel(), selectionLabel(sel), merged);
    const pane: Pane = { view, selection: sel, live: NO_STREAM };
    const path = () => {
      const q = new URLSearchParams(pane.selection);
      q.set('follow', '1');
      // A reconnect resumes at the last line shown instead of repeating the tail.
      if (pane.lastTime) q.set('since', pane.lastTime);
      else q.set('tail', String(INITIAL_TAIL));
      return `/v1/ws/logs?${q}`;
    };
    const open = () => {
      pane.live = openStream(
        path,
        (data) => {
          if (Array.isArray(data)) {
            const recs = data as LogRecord[];
            const last = recs.at(-1);
            if (last) {
              pane.lastTime = last.time;
              if (view.el.dataset.error !== undefined) view.showProblem(undefined);
            }
            view.enqueue(recs);
          } else if (data && typeof data === 'object' && 'error' in data) {
            view.showProblem(
              String((data as { error: { message?: string } }).error.message ?? 'stream error'),
            );
          }
        },
        (s, reason) => {
          view.el.dataset.stream = s;
          if (s === 'closed' && reason) view.el.title = `stream: ${reason}`;
        },
      );
    };
    const ask = unknown(sel);
    if (ask.length === 0) open();
    else {
      view.el.dataset.stream = 'checking';
      void Promise.all(ask.map(async (n) => [n, await logsRefusal(n)] as const)).then((answers) => {
        if (unmounted) return;
        const refused = answers.filter((a): a is readonly [string, string] => a[1] !== undefined);
        if (refused.length > 0) {
          // The reason, as the agent gives it; the other containers of the pane still stream.
          view.showProblem(refused.map(([n, why]) => (merged ? `${n}: ${why}` : why)).join('\n'));
          const no = new Set(refused.map(([n]) => n));
          const kept = new URLSearchParams();
          for (const [k, v] of sel) if (!(k === 'container' && no.has(v))) kept.append(k, v);
          pane.selection = kept;
        }
        if ([...pane.selection.keys()].length === 0) {
          pane.empty = true;
          view.el.dataset.stream = 'refused';
          return;
        }
        open();
      });
    }
    view.el.dataset.selection = sel.toString();
    panesEl.appendChild(view.el);
    return pane;
  });

  const applySearch = () => {
    const m = compileSearch(search.value, mode.value as SearchMode);
    if (isSearchError(m)) {
      searchError.textContent = m.error;
      search.setAttribute('aria-invalid', 'true');
      return;
    }
    searchError.textContent = '';
    search.removeAttribute('aria-invalid');
    for (const p of panes) p.view.setMatcher(m, only.checked);
  };
  let searchTimer: number | undefined;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(applySearch, 120);
  });
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      clearTimeout(searchTimer);
      applySearch();
    }
  });
  mode.addEventListener('change', () => {
    search.placeholder = `Search (${mode.value === 'regex' ? 'regular expression' : 'plain text'})`;
    applySearch();
  });
  only.addEventListener('change', applySearch);

  const setPaused = (paused: boolean) => {
    for (const p of panes) {
      if (paused) p.view.model.pause();
      else {
        p.history?.close();
        p.history = undefined;
        if (p.view.el.dataset.history) {
          // Back from history: the held live lines continue what was live, not the history shown.
          p.view.model.clear();
          delete p.view.el.dataset.history;
        }
        p.view.model.resume();
        p.view.followNow();
      }
      p.view.schedule();
    }
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) banner.hidden = true;
  };
  pause.addEventListener('click', () => setPaused(!panes[0]?.view.model.paused));

  const jumpTo = () => {
    const ms = Date.parse(when.value);
    if (Number.isNaN(ms)) {
      searchError.textContent = 'time: choose a date and time to jump to';
      when.focus();
      return;
    }
    searchError.textContent = '';
    for (const p of panes) {
      if (p.empty) continue;
      const first = p.view.model.at(0);
      const i = p.view.model.indexAtTime(ms);
      if (first && first.ms <= ms && i >= 0) {
        p.view.scrollToIndex(i);
        continue;
      }
      loadHistory(p, new Date(ms).toISOString());
    }
  };
  jump.addEventListener('click', jumpTo);
  when.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') jumpTo();
  });

  /** Shows the lines from `since` on (what a pane holds of them), live lines waiting meanwhile. */
  const loadHistory = (p: Pane, since: string) => {
    p.history?.close();
    const model = p.view.model;
    model.pause();
    model.paused = false;
    model.clear();
    model.pause();
    p.view.el.dataset.history = since;
    pause.textContent = 'Resume';
    pause.setAttribute('aria-pressed', 'true');
    banner.hidden = false;
    fill(
      banner,
      `Showing lines from ${since} (live lines wait). `,
      h('button', { type: 'button', onclick: () => setPaused(false) }, 'Back to live'),
    );
    const q = new URLSearchParams(p.selection);
    q.set('since', since);
    let got = 0;
    p.history = openStream(
      `/v1/ws/logs?${q}`,
      (data) => {
        if (!Array.isArray(data) || got >= model.capacity) return;
        const recs = (data as LogRecord[]).slice(0, model.capacity - got);
        got += recs.length;
        // The model is paused for live lines; history goes in directly.
        model.paused = false;
        model.add(recs);
        model.paused = true;
        p.view.follow = false;
        p.view.schedule();
        if (got >= model.capacity) p.history?.close();
      },
      () => undefined,
      false,
    );
    p.view.scrollToIndex(0);
  };

  download.addEventListener('click', () => {
    const lines: string[] = [];
    for (const p of panes) {
      for (const e of p.view.model.shown())
        lines.push(`${e.time} ${e.container} ${e.stream} ${entryText(e)}`);
    }
    const blob = new Blob([`${lines.join('\n')}\n`], { type: 'text/plain' });
    const a = h('a', {
      href: URL.createObjectURL(blob),
      download: `berth-logs-${selectionLabel(new URLSearchParams(params)).replace(/[^\w.-]+/g, '_')}.log`,
    });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });

  return () => {
    unmounted = true;
    clearTimeout(searchTimer);
    for (const p of panes) {
      p.live.close();
      p.history?.close();
      p.view.destroy();
    }
  };
}

export const logsView: View = (root, params, store) => mountLogs(root, params, { store });
