/**
 * Live line charts (uPlot): one series per container, the last WINDOW
 * points. A chart is rebuilt only when its set of series changes; new points
 * go through setData. The element carries `data-points` (points held) so a
 * test, or a curious reader, can see it move.
 */
import uPlot from 'uplot';
import { bytes, colourOf, h } from './dom.js';

/** Two minutes at the stats stream's default interval of 1 s. */
const WINDOW = 120;

export type Unit = 'cores' | 'bytes';

export class LiveChart {
  readonly el: HTMLElement;
  private readonly plotEl: HTMLElement;
  private plot: uPlot | undefined;
  private names: string[] = [];
  private xs: number[] = [];
  private ys = new Map<string, Array<number | null>>();
  private readonly resize: ResizeObserver;

  constructor(
    readonly title: string,
    private readonly unit: Unit,
  ) {
    this.plotEl = h('div', { class: 'plot' });
    this.el = h(
      'figure',
      { class: 'chart', 'data-points': '0', 'aria-label': title },
      h('figcaption', null, title),
      this.plotEl,
    );
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(this.el);
  }

  /** Adds one reading per series at time `t` (seconds since the epoch). */
  push(t: number, values: Map<string, number>): void {
    this.xs.push(t);
    for (const name of values.keys())
      if (!this.ys.has(name))
        this.ys.set(
          name,
          this.xs.map(() => null),
        );
    for (const [name, ys] of this.ys) ys.push(values.get(name) ?? null);
    if (this.xs.length > WINDOW) {
      this.xs.shift();
      for (const ys of this.ys.values()) ys.shift();
    }
    // A series with no point left in the window (a container gone) is dropped.
    for (const [name, ys] of this.ys) if (ys.every((v) => v === null)) this.ys.delete(name);
    const names = [...this.ys.keys()].sort();
    const data = [this.xs, ...names.map((n) => this.ys.get(n) as Array<number | null>)] as uPlot.AlignedData;
    if (!this.plot || names.join('\u0000') !== this.names.join('\u0000')) {
      this.names = names;
      this.plot?.destroy();
      this.plot = new uPlot(this.options(names), data, this.plotEl);
    } else {
      this.plot.setData(data);
    }
    this.el.dataset.points = String(this.xs.length);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.el.clientWidth - 16), height: 160 };
  }

  private options(names: string[]): uPlot.Options {
    const fmt = this.unit === 'bytes' ? (v: number) => bytes(v) : (v: number) => `${v.toFixed(2)}`;
    return {
      ...this.size(),
      legend: { show: names.length <= 8 },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {},
        {
          size: 70,
          values: (_u, ticks) => ticks.map(fmt),
          label: this.unit === 'cores' ? 'cores' : undefined,
        },
      ],
      series: [
        {},
        ...names.map((n) => ({
          label: n,
          stroke: colourOf(n),
          width: 1.5,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
        })),
      ],
    };
  }
}
