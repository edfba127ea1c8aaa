/** Pieces several views show the same way. */
import { LiveChart } from '../charts.js';
import { h } from '../dom.js';
import { ownerOf } from '../source.js';
import type { Container, PortMapping, StatsMessage } from '../types.js';

export function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge state-${state}` }, state);
}

export function healthBadge(health: string): HTMLElement | string {
  return health === 'none' || health === '' ? '–' : h('span', { class: `badge health-${health}` }, health);
}

export function ports(list: PortMapping[]): string {
  const published = list.filter((p) => p.hostPort > 0);
  if (published.length === 0) return list.map((p) => `${p.containerPort}/${p.protocol}`).join(', ') || '–';
  return published
    .map((p) => `${p.hostIp || '0.0.0.0'}:${p.hostPort}→${p.containerPort}/${p.protocol}`)
    .join(', ');
}

export function addresses(c: Container): string {
  const a = Object.entries(c.addresses ?? {});
  if (a.length === 0) return c.networkMode === 'host' ? 'host network' : '–';
  return a.map(([net, ip]) => (a.length > 1 ? `${ip} (${net})` : ip)).join(', ');
}

export function link(href: string, text: string, label?: string): HTMLAnchorElement {
  return h('a', { href, ...(label ? { 'aria-label': label } : {}) }, text);
}

export const containerHref = (name: string) => `#/containers/${encodeURIComponent(name)}`;
export const logsHref = (q: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) for (const x of [v].flat()) p.append(k, x);
  return `#/logs?${p}`;
};

/** CPU (cores) and memory (working set) charts fed by the stats stream, for `names` or every container. */
export function statsCharts(filter?: (name: string) => boolean): {
  el: HTMLElement;
  push(m: StatsMessage): void;
  destroy(): void;
} {
  const cpu = new LiveChart('CPU (cores)', 'cores');
  const mem = new LiveChart('Memory (working set)', 'bytes');
  cpu.el.dataset.chart = 'cpu';
  mem.el.dataset.chart = 'memory';
  return {
    el: h('div', { class: 'charts' }, cpu.el, mem.el),
    push(m) {
      const t = Date.parse(m.time) / 1000;
      const cpus = new Map<string, number>();
      const mems = new Map<string, number>();
      for (const c of m.containers) {
        if (filter && !filter(c.name)) continue;
        cpus.set(c.name, c.cpu);
        const used = c.memory.workingSet ?? c.memory.usage;
        if (used !== undefined) mems.set(c.name, used);
      }
      cpu.push(t, cpus);
      mem.push(t, mems);
    },
    destroy() {
      cpu.destroy();
      mem.destroy();
    },
  };
}

export function sourceBadge(source: string): HTMLElement {
  const o = ownerOf(source);
  return h(
    'span',
    {
      class: `badge source source-${source}`,
      title: source === 'berth' ? "berth's own" : `observed: ${source}, managed by ${o.manager}`,
    },
    o.label,
  );
}

/** What an observed container offers instead of actions: why, and what to use. */
export function readOnlyNote(c: Pick<Container, 'source' | 'name'>): HTMLElement {
  const o = ownerOf(c.source);
  return h(
    'span',
    {
      class: 'readonly',
      'data-readonly': c.source,
      title: `${c.name} is observed, not run by berth: stop, start and restart it with ${o.tool}`,
    },
    `read-only: use ${o.tool}`,
  );
}
