// The rows every benchmark module returns, and the table bench/main.ts prints.
// NOTE: this file briefly replaced an uncommitted version by another engineer;
// summarize() and formatTable() keep that version's call signatures
// (see bench/queue.ts and bench/main.ts).

/** p95Ms: for benches of few samples (e.g. 20 cold starts), where p99 is just the slowest; shown when a row has it. */
export type Row = { name: string; p50Ms: number; p95Ms?: number; p99Ms: number; rps?: number; note?: string };

/** The q-quantile (0..1) of samples, by the nearest-rank method. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** A row from per-call latencies in ms, with a throughput the caller measured. */
export function summarize(name: string, samplesMs: readonly number[], opts: { rps?: number; note?: string; p95?: boolean } = {}): Row {
  const row: Row = { name, p50Ms: round(quantile(samplesMs, 0.5)), p99Ms: round(quantile(samplesMs, 0.99)) };
  if (opts.p95 === true) row.p95Ms = round(quantile(samplesMs, 0.95));
  if (opts.rps !== undefined && Number.isFinite(opts.rps)) row.rps = Math.round(opts.rps);
  if (opts.note !== undefined) row.note = opts.note;
  return row;
}

/** For sequential loops: throughput is calls over the loop's wall time. */
export function summarise(name: string, samplesMs: readonly number[], opts: { wallMs?: number; note?: string } = {}): Row {
  return summarize(name, samplesMs, {
    ...(opts.wallMs !== undefined && opts.wallMs > 0 ? { rps: (samplesMs.length / opts.wallMs) * 1000 } : {}),
    ...(opts.note !== undefined ? { note: opts.note } : {}),
  });
}

export function skipped(name: string, why: string): Row {
  return { name, p50Ms: Number.NaN, p99Ms: Number.NaN, note: `skipped: ${why}` };
}

export function formatTable(title: string, rows: readonly Row[]): string {
  const p95 = rows.some((r) => r.p95Ms !== undefined);
  const head = ['benchmark', 'p50 ms', ...(p95 ? ['p95 ms'] : []), 'p99 ms', 'req/s', 'note'];
  const numeric = head.length - 2;
  const cells = rows.map((r) => [r.name, num(r.p50Ms), ...(p95 ? [num(r.p95Ms ?? Number.NaN)] : []), num(r.p99Ms), r.rps !== undefined ? String(r.rps) : '', r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c.map((v, i) => (i >= 1 && i <= numeric ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [`\n${title}`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function num(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(3);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
