// Plots the autoscaler over a simulated burst: load, desired and ready
// instances, with panic periods shaded. Writes a self-contained SVG (no
// plotting dependency) to docs/autoscaler-burst.svg.
//   npx tsx bench/plot-autoscaler.ts [output.svg]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FunctionSpecSchema } from '../src/api/function.js';
import { autoscalerConfig, perInstanceTarget } from '../src/autoscaler/core.js';
import { simulate, steps, type SimulationPoint } from '../src/autoscaler/simulate.js';

const START_DELAY_SECONDS = 3;

const spec = FunctionSpecSchema.parse({
  runtime: 'nodejs20',
  handler: 'index.handler',
  code: { inline: { 'index.js': '' } },
  concurrency: 10,
  scaling: { minInstances: 1, maxInstances: 20 },
});
const config = autoscalerConfig(spec);

// Quiet, a sudden burst, a shoulder, silence, then a short spike: panic,
// the stable descent, the floor at minInstances, and panic's hold.
const profile = steps([
  { from: 0, load: 2 },
  { from: 20, load: 60 },
  { from: 80, load: 20 },
  { from: 140, load: 0 },
  { from: 240, load: 30 },
  { from: 255, load: 0 },
]);

const series = simulate({ config, load: profile, durationSeconds: 420, startDelaySeconds: START_DELAY_SECONDS });

export function renderSvg(points: readonly SimulationPoint[], subtitle: string): string {
  const W = 960;
  const H = 440;
  const m = { left: 60, right: 60, top: 56, bottom: 70 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const tMax = points.at(-1)?.t ?? 1;
  // Five grid bands on both axes, with some headroom above the largest value.
  const loadMax = 5 * niceStep((Math.max(1, ...points.map((p) => p.load)) * 1.1) / 5);
  const instMax = 5 * niceStep((Math.max(1, ...points.map((p) => Math.max(p.desired, p.ready))) * 1.1) / 5);
  const x = (t: number) => m.left + (t / tMax) * pw;
  const yLoad = (v: number) => m.top + ph - (v / loadMax) * ph;
  const yInst = (v: number) => m.top + ph - (v / instMax) * ph;

  const stepPath = (val: (p: SimulationPoint) => number, y: (v: number) => number) => {
    let d = '';
    points.forEach((p, i) => {
      const next = points[i + 1];
      d += `${i === 0 ? 'M' : 'L'}${f(x(p.t))},${f(y(val(p)))} L${f(x(next?.t ?? p.t))},${f(y(val(p)))} `;
    });
    return d.trim();
  };

  // Panic periods as [start, end) spans.
  const spans: [number, number][] = [];
  for (const p of points) {
    const last = spans.at(-1);
    if (p.panic) {
      if (last && last[1] === p.t) last[1] = p.t + 1;
      else spans.push([p.t, p.t + 1]);
    }
  }

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="16" font-weight="600">Hearth autoscaler: a simulated burst</text>`);
  out.push(`<text x="${m.left}" y="42" fill="#555">${esc(subtitle)}</text>`);
  // Grid and axes.
  for (let i = 0; i <= 5; i++) {
    const y = m.top + (ph * i) / 5;
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(y)}" y2="${f(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(y + 4)}" text-anchor="end" fill="#666">${fmt(loadMax * (1 - i / 5))}</text>`);
    out.push(`<text x="${m.left + pw + 8}" y="${f(y + 4)}" fill="#666">${fmt(instMax * (1 - i / 5))}</text>`);
  }
  for (let t = 0; t <= tMax; t += 30) {
    out.push(`<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#666"/>`);
    out.push(`<text x="${f(x(t))}" y="${m.top + ph + 18}" text-anchor="middle" fill="#666">${t}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle" fill="#333">time (s)</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">concurrent requests</text>`);
  out.push(`<text transform="translate(${W - 14} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#333">instances</text>`);
  // Series: load as a filled area on the left axis, instances as steps on the right.
  const area = `${stepPath((p) => p.load, yLoad)} L${f(x(tMax))},${f(yLoad(0))} L${f(x(0))},${f(yLoad(0))} Z`;
  out.push(`<path d="${area}" fill="#cfd8e3" stroke="#8a9bb0" stroke-width="1"/>`);
  // Panic on top of the load area, translucent, so both stay visible.
  for (const [a, b] of spans) {
    out.push(`<rect x="${f(x(a))}" y="${m.top}" width="${f(x(Math.min(b, tMax)) - x(a))}" height="${ph}" fill="#e8423f" opacity="0.18"/>`);
  }
  out.push(`<path d="${stepPath((p) => p.desired, yInst)}" fill="none" stroke="#e07b00" stroke-width="2.5"/>`);
  out.push(`<path d="${stepPath((p) => p.ready, yInst)}" fill="none" stroke="#1f5fbf" stroke-width="2" stroke-dasharray="6 3"/>`);
  // Legend.
  const ly = H - 16;
  const legend: [string, string][] = [
    ['<rect width="18" height="10" fill="#cfd8e3" stroke="#8a9bb0"/>', 'load: concurrent requests (left axis)'],
    ['<line x1="0" x2="18" y1="5" y2="5" stroke="#e07b00" stroke-width="2.5"/>', 'desired instances (right axis)'],
    ['<line x1="0" x2="18" y1="5" y2="5" stroke="#1f5fbf" stroke-width="2" stroke-dasharray="6 3"/>', 'ready instances (right axis)'],
    ['<rect width="18" height="10" fill="#e8423f" opacity="0.18"/>', 'panic mode'],
  ];
  let lx = m.left;
  for (const [mark, label] of legend) {
    out.push(`<g transform="translate(${lx} ${ly - 9})">${mark}<text x="24" y="9" fill="#333">${esc(label)}</text></g>`);
    lx += 30 + label.length * 6.3;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The smallest of 1, 2, 4, 5 or 10 times a power of ten that is at least v. */
function niceStep(v: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  for (const k of [1, 2, 4, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}
function f(n: number): string {
  return n.toFixed(1);
}
function fmt(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const here = dirname(fileURLToPath(import.meta.url));
const target = resolve(process.argv[2] ?? resolve(here, '..', 'docs', 'autoscaler-burst.svg'));
const subtitle =
  `concurrency ${config.concurrency}, target ${config.targetConcurrency} × ${config.targetUtilizationPercent}% = ${fmt(perInstanceTarget(config))} per instance, ` +
  `min ${config.minInstances}, max ${config.maxInstances}, windows ${config.stableWindowSeconds} s / ${config.panicWindowSeconds} s, ` +
  `instance start ${START_DELAY_SECONDS} s`;
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderSvg(series, subtitle));
const peak = Math.max(...series.map((p) => p.desired));
console.log(`wrote ${target}: ${series.length} points, peak desired ${peak}, panic for ${series.filter((p) => p.panic).length} s`);
