/**
 * Element building without a framework. Text always goes in as text nodes
 * (never innerHTML): container names, labels and log lines come from whoever
 * runs the container.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = String(v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function ago(iso: string | undefined): string {
  if (!iso) return '–';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${Math.max(0, Math.floor(s))} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A stable colour per name (replica prefixes in merged logs, chart series). */
export function colourOf(name: string): string {
  let x = 2166136261;
  for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 16777619);
  return `hsl(${(x >>> 0) % 360} 65% 45%)`;
}

/**
 * Where focus is, in terms that survive a redraw: the `data-name` of the row
 * (or section) around the element and the element's `data-action`. Views
 * rebuild their rows when containers change; without this, a keyboard user
 * would lose focus to <body> each time.
 */
export function focusKey(el: Element | null): { name: string; action: string } | undefined {
  const target = el as HTMLElement | null;
  const name = target?.closest<HTMLElement>('[data-name]')?.dataset.name;
  const action = target?.dataset.action;
  return name !== undefined && action !== undefined ? { name, action } : undefined;
}

/** Focuses the element `key` names (or another action of the same row, when that one is gone). */
export function restoreFocus(
  key: { name: string; action: string } | undefined,
  within: ParentNode = document,
): void {
  if (!key) return;
  const row = within.querySelector(`[data-name="${CSS.escape(key.name)}"]`);
  const el =
    row?.querySelector<HTMLElement>(`[data-action="${CSS.escape(key.action)}"]`) ??
    row?.querySelector<HTMLElement>('[data-action]');
  el?.focus();
}
