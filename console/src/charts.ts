// The function's charts over the last hour (GET /metrics/history), drawn with
// uPlot. Each figure says in text what its newest point holds, so the numbers
// are there without seeing the plot.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';
// What GET /metrics/history answers: the gateway's own type (its file has no imports), so the two cannot drift.
import type { HistorySeries } from '../../src/metrics/history';

export type { HistorySeries };

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  series: Array<{ key: keyof HistorySeries; label: string; color: string }>;
}

const CHARTS: ChartSpec[] = [
  { id: 'invocations', title: 'Invocations', unit: 'per interval', series: [{ key: 'invocations', label: 'Invocations', color: '#2563eb' }, { key: 'errors', label: 'Errors', color: '#dc2626' }, { key: 'throttles', label: 'Throttles', color: '#d97706' }] },
  { id: 'duration', title: 'Duration', unit: 'ms', series: [{ key: 'durationP50', label: 'p50', color: '#059669' }, { key: 'durationP99', label: 'p99', color: '#7c3aed' }] },
  { id: 'cold-starts', title: 'Cold starts', unit: 'per interval', series: [{ key: 'coldStarts', label: 'Cold starts', color: '#0891b2' }] },
  { id: 'instances', title: 'Instances', unit: 'now', series: [{ key: 'instances', label: 'Instances', color: '#4f46e5' }] },
  { id: 'queue', title: 'Async queue', unit: 'events', series: [{ key: 'queueDepth', label: 'Queue depth', color: '#0d9488' }, { key: 'deadLetters', label: 'Dead letters', color: '#be123c' }] },
];

function sum(xs: ReadonlyArray<number | null>): number {
  return xs.reduce<number>((n, x) => n + (x ?? 0), 0);
}

export class Charts {
  readonly el: HTMLElement;
  #plots = new Map<string, { plot: uPlot; summary: HTMLElement; figure: HTMLElement }>();
  #resize: ResizeObserver;
  /** The newest point's time (s): the x axis is the hour up to it. */
  #newest = Date.now() / 1000;

  constructor() {
    this.el = h('div', { class: 'charts' });
    this.#resize = new ResizeObserver(() => this.#fit());
  }

  #width(figure: HTMLElement): number {
    return Math.max(200, Math.floor(figure.clientWidth - 2));
  }

  #fit(): void {
    for (const { plot, figure } of this.#plots.values()) plot.setSize({ width: this.#width(figure), height: 160 });
  }

  update(data: HistorySeries): void {
    this.#newest = data.t[data.t.length - 1] ?? Date.now() / 1000;
    for (const spec of CHARTS) {
      const columns: uPlot.AlignedData = [data.t, ...spec.series.map((s) => data[s.key] as Array<number | null>)];
      let entry = this.#plots.get(spec.id);
      if (!entry) {
        const summary = h('p', { class: 'chart-summary' });
        const figure = h('figure', { class: 'chart', id: `chart-${spec.id}`, 'aria-label': `${spec.title} over the last hour` }, h('figcaption', {}, `${spec.title} `, h('span', { class: 'unit' }, `(${spec.unit})`)), summary);
        this.el.append(figure);
        const plot = new uPlot(
          {
            width: this.#width(figure),
            height: 160,
            legend: { show: true, live: false },
            scales: {
              // Always the hour up to the newest point, however few points there are yet.
              x: { time: true, range: () => [this.#newest - 3600, this.#newest + 20] },
              y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, (max ?? 1) * 1.1)] },
            },
            series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: true, size: 7 } }))],
            axes: [{}, { size: 44 }],
          },
          columns,
          figure,
        );
        entry = { plot, summary, figure };
        this.#plots.set(spec.id, entry);
        this.#resize.observe(figure);
      } else {
        entry.plot.setData(columns);
      }
      // What the plot shows, as text (and for tests: data-* of the figure).
      const last = data.t.length - 1;
      const parts = spec.series.map((s) => {
        const col = data[s.key] as Array<number | null>;
        const isCount = spec.unit === 'per interval';
        const v = isCount ? sum(col) : col[last];
        return `${s.label} ${isCount ? 'in the last hour' : 'now'}: ${v === null || v === undefined ? '-' : Math.round(v * 100) / 100}`;
      });
      entry.summary.textContent = parts.join(' · ');
      spec.series.forEach((s) => entry.figure.setAttribute(`data-${s.key.toLowerCase()}`, String(sum(data[s.key] as Array<number | null>))));
      entry.figure.setAttribute('data-points', String(data.t.length));
    }
  }

  destroy(): void {
    this.#resize.disconnect();
    for (const { plot } of this.#plots.values()) plot.destroy();
    this.#plots.clear();
  }
}
