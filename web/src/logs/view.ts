/**
 * One log pane in the DOM: a virtual scroller over a LogModel. Only the rows
 * in sight (plus a few above and below) exist as elements; records that
 * arrive are queued and applied once per animation frame, at most
 * MAX_PER_FRAME at a time, so a container printing thousands of lines a
 * second costs the page one small DOM update per frame, never a long task.
 * Scrolling up stops following (like `less +F`); scrolling back to the
 * bottom, End, or Resume follows again.
 */
import { colourOf, h } from '../dom.js';
import type { LogEntry, LogRecord } from './entry.js';
import type { LogModel } from './model.js';
import type { Matcher } from './search.js';

/** Records applied per frame: ~1 ms of parsing; a backlog (a tab in the background) drains over a few frames. */
const MAX_PER_FRAME = 4000;
/** The shortest time between two redraws caused only by new lines (a scroll redraws at once). */
const MIN_DATA_FRAME_MS = 50;
/** Rows rendered beyond the visible ones, above and below, so a small scroll shows no blank. */
const OVERSCAN = 8;

interface RowEl extends HTMLDivElement {
  renderKey?: string;
}

export class LogPaneView {
  readonly el: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rowsEl: HTMLElement;
  private readonly status: HTMLElement;
  private readonly problem: HTMLElement;
  private pending: LogRecord[] = [];
  /** Records dropped from the queue because more arrived than a pane holds (only the newest matter). */
  queueDropped = 0;
  private frame = 0;
  private rowH = 18;
  follow = true;
  private matcher: Matcher | undefined;
  private highlightKey = '';
  private touched = new Set<number>();
  private lastVersion = -1;
  private lastTop = -1;
  private lastHeight = -1;
  /** The row element of each entry in the window, by seq. */
  private rowBySeq = new Map<number, RowEl>();
  private lastRenderAt = 0;
  /** Called after each frame that changed what is shown (the page's counters). */
  onRender: () => void = () => undefined;

  constructor(
    readonly model: LogModel,
    readonly title: string,
    private readonly prefix: boolean,
  ) {
    this.spacer = h('div', { class: 'log-spacer' });
    this.rowsEl = h('div', { class: 'log-rows' });
    this.spacer.appendChild(this.rowsEl);
    this.scroller = h(
      'div',
      { class: 'log-scroll', tabindex: 0, role: 'log', 'aria-label': `logs of ${title}`, 'aria-live': 'off' },
      this.spacer,
    );
    this.status = h('div', { class: 'log-status' });
    this.problem = h('div', { class: 'log-error', role: 'alert', hidden: true });
    this.el = h(
      'section',
      { class: 'log-pane' },
      h('header', null, h('h3', null, title), this.status),
      this.problem,
      this.scroller,
    );
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.scroller.addEventListener('keydown', (ev) => {
      if (ev.key === 'End') {
        this.follow = true;
        this.schedule();
      }
    });
    this.rowsEl.addEventListener('click', (ev) => {
      const btn = (ev.target as HTMLElement).closest('button.more');
      const seq = btn?.closest<HTMLElement>('.row')?.dataset.seq;
      if (seq !== undefined) {
        this.model.toggleExpanded(Number(seq));
        this.schedule();
      }
    });
  }

  /** Queues records (from the stream); they are shown on the next frame. */
  enqueue(records: readonly LogRecord[]): void {
    for (const r of records) this.pending.push(r);
    // More waiting than the pane holds: the oldest would be dropped by the ring anyway.
    const over = this.pending.length - this.model.capacity;
    if (over > 0) {
      this.pending.splice(0, over);
      this.queueDropped += over;
    }
    this.schedule();
  }

  setMatcher(m: Matcher | undefined, onlyMatches: boolean): void {
    this.matcher = m;
    this.highlightKey = m ? `${m.query}\u0000${onlyMatches}` : '';
    this.model.setMatcher(onlyMatches ? m : undefined);
    this.schedule();
  }

  /** Scrolls to view entry `i` and stops following. */
  scrollToIndex(i: number): void {
    this.follow = false;
    this.scroller.scrollTop = this.model.rowOf(i) * this.rowH;
    this.schedule();
  }

  /**
   * Shows why the agent serves no lines (its error message, which names the
   * reason) above the lines, or clears it (undefined).
   */
  showProblem(message: string | undefined): void {
    this.problem.textContent = message ?? '';
    this.problem.hidden = message === undefined;
    if (message === undefined) delete this.el.dataset.error;
    else this.el.dataset.error = message;
  }

  followNow(): void {
    this.follow = true;
    this.schedule();
  }

  schedule(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.flush());
  }

  destroy(): void {
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  private flush(): void {
    this.frame = 0;
    // A new search tests the held lines a chunk per frame.
    if (!this.model.scan()) this.schedule();
    if (this.pending.length > 0) {
      const batch =
        this.pending.length <= MAX_PER_FRAME ? this.pending : this.pending.slice(0, MAX_PER_FRAME);
      this.pending = batch === this.pending ? [] : this.pending.slice(MAX_PER_FRAME);
      // Keep the line the reader looks at in place while older lines fall off the front.
      const anchor = this.follow ? undefined : this.firstVisible();
      for (const seq of this.model.add(batch)) this.touched.add(seq);
      if (anchor) this.keepInPlace(anchor);
      if (this.pending.length > 0) this.schedule();
    }
    this.render();
  }

  private firstVisible(): { seq: number; offset: number } | undefined {
    const row = this.scroller.scrollTop / this.rowH;
    const i = this.model.indexAtRow(row);
    const e = this.model.at(i);
    return e ? { seq: e.seq, offset: this.scroller.scrollTop - this.model.rowOf(i) * this.rowH } : undefined;
  }

  private keepInPlace(anchor: { seq: number; offset: number }): void {
    // The view is ordered by seq: binary search for the anchor's new index.
    let lo = 0;
    let hi = this.model.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.model.at(mid) as LogEntry).seq < anchor.seq) lo = mid + 1;
      else hi = mid;
    }
    this.spacer.style.height = `${this.model.rows * this.rowH}px`;
    this.scroller.scrollTop = this.model.rowOf(lo) * this.rowH + anchor.offset;
  }

  private onScroll(): void {
    const atBottom =
      this.scroller.scrollTop + this.scroller.clientHeight >= this.scroller.scrollHeight - this.rowH * 2;
    if (atBottom !== this.follow) this.follow = atBottom;
    this.schedule();
  }

  private render(): void {
    // New lines alone redraw at most every MIN_DATA_FRAME_MS: nobody reads a
    // flood at 60 frames a second, and the DOM work shrinks. A scroll, a
    // search or an expanded trace redraws at once.
    const dataOnly =
      this.scroller.scrollTop === this.lastTop &&
      this.touched.size === 0 &&
      this.rowsEl.dataset.hl === this.highlightKey;
    if (dataOnly && performance.now() - this.lastRenderAt < MIN_DATA_FRAME_MS) {
      this.schedule();
      return;
    }
    const total = this.model.rows;
    const height = total * this.rowH;
    if (height !== this.lastHeight) {
      this.spacer.style.height = `${height}px`;
      this.lastHeight = height;
    }
    if (this.follow) this.scroller.scrollTop = this.scroller.scrollHeight;
    const top = this.scroller.scrollTop;
    const viewH = this.scroller.clientHeight || 400;
    this.status.textContent = this.statusText();
    this.el.dataset.held = String(this.model.ring.length);
    if (
      this.model.version === this.lastVersion &&
      top === this.lastTop &&
      this.touched.size === 0 &&
      this.rowsEl.dataset.hl === this.highlightKey
    ) {
      return;
    }
    this.lastRenderAt = performance.now();
    this.lastVersion = this.model.version;
    this.lastTop = top;
    this.rowsEl.dataset.hl = this.highlightKey;
    const firstRow = Math.max(0, Math.floor(top / this.rowH) - OVERSCAN);
    const endRow = Math.ceil((top + viewH) / this.rowH) + OVERSCAN;
    const i0 = this.model.size === 0 ? 0 : this.model.indexAtRow(firstRow);
    this.rowsEl.style.transform = `translateY(${this.model.rowOf(i0) * this.rowH}px)`;
    // Rows are kept by entry: while following, the window slides, so most rows
    // stay as they are; those that left are removed and new ones appended.
    const rows = new Map<number, RowEl>();
    const wanted: LogEntry[] = [];
    for (let i = i0; i < this.model.size && this.model.rowOf(i) < endRow; i++) {
      const e = this.model.at(i) as LogEntry;
      wanted.push(e);
      const row = this.rowBySeq.get(e.seq);
      if (row) rows.set(e.seq, row);
    }
    for (const [seq, row] of this.rowBySeq) if (!rows.has(seq)) row.remove();
    let cursor = this.rowsEl.firstChild;
    for (const e of wanted) {
      let row = rows.get(e.seq);
      if (!row) {
        row = document.createElement('div') as RowEl;
        rows.set(e.seq, row);
      }
      const expanded = this.model.expanded.has(e.seq);
      const key = `${e.more.length}\u0000${expanded}\u0000${this.highlightKey}`;
      if (row.renderKey !== key || this.touched.has(e.seq)) {
        this.renderRow(row, e, expanded);
        row.renderKey = key;
      }
      if (row === cursor) cursor = cursor.nextSibling;
      else this.rowsEl.insertBefore(row, cursor);
    }
    this.rowBySeq = rows;
    this.touched.clear();
    this.onRender();
  }

  private statusText(): string {
    const n = this.model.size;
    const parts = [
      this.model.scanning
        ? `searching… ${n.toLocaleString('en')} found so far`
        : this.model.searching
          ? `${n.toLocaleString('en')} ${n === 1 ? 'line matches' : 'lines match'}`
          : `${n.toLocaleString('en')} ${n === 1 ? 'line' : 'lines'}`,
    ];
    if (this.model.paused) parts.push(`paused, ${this.model.heldCount.toLocaleString('en')} new`);
    else if (!this.follow) parts.push('not following (End to follow)');
    return parts.join(' · ');
  }

  private renderRow(row: RowEl, e: LogEntry, expanded: boolean): void {
    row.className = `row${e.level ? ` lvl-${e.level}` : ''}${e.stream === 'stderr' ? ' stderr' : ''}`;
    row.dataset.seq = String(e.seq);
    row.style.height = `${this.model.rowsOf(e) * this.rowH}px`;
    row.replaceChildren();
    const line = h('div', { class: 'line' }, h('span', { class: 't', title: e.time }, e.time.slice(11, 23)));
    if (this.prefix)
      line.appendChild(h('span', { class: 'c', style: `color:${colourOf(e.container)}` }, e.container));
    if (e.stream === 'stderr') line.appendChild(h('span', { class: 'err', title: 'stderr' }, 'E'));
    if (e.level) line.appendChild(h('span', { class: 'lv' }, e.level.toUpperCase()));
    if (e.json) {
      if (e.json.message !== undefined) line.appendChild(this.marked('m', e.json.message));
      const fields = h('span', { class: 'f' });
      for (const [k, v] of e.json.fields) {
        fields.append(h('span', { class: 'k' }, k), '=');
        fields.appendChild(this.marked('v', v));
        fields.append(' ');
      }
      line.appendChild(fields);
    } else {
      line.appendChild(this.marked('m', e.line));
    }
    if (e.more.length > 0) {
      line.appendChild(
        h(
          'button',
          { class: 'more', type: 'button', 'aria-expanded': String(expanded) },
          expanded ? '▾ hide' : `▸ ${e.more.length + e.moreDropped} more lines`,
        ),
      );
    }
    row.appendChild(line);
    if (expanded) {
      for (const m of e.more) row.appendChild(h('div', { class: 'line cont' }, this.marked('m', m)));
      if (e.moreDropped > 0)
        row.appendChild(h('div', { class: 'line cont' }, `… ${e.moreDropped} more lines not kept`));
    }
  }

  /** Text with the search's matches in <mark>, built as text nodes. */
  private marked(cls: string, text: string): HTMLElement {
    const span = h('span', { class: cls });
    const ranges = this.matcher ? this.matcher.ranges(text) : [];
    let at = 0;
    for (const [s, e] of ranges) {
      if (s > at) span.append(text.slice(at, s));
      span.appendChild(h('mark', null, text.slice(s, e)));
      at = e;
    }
    if (at < text.length) span.append(text.slice(at));
    return span;
  }
}
