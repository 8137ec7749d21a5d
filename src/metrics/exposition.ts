// Reads Prometheus' text exposition format back into samples, for commands
// such as `hearth cost` that summarise a running gateway's metrics.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sums a metric's samples by one label. */
export function sumBy(samples: readonly Sample[], name: string, label: string, keep: (s: Sample) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !keep(s)) continue;
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** A family's own name for each sample name a family of that type writes (a histogram's _bucket, _sum, _count). */
const SAMPLE_SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
};

/**
 * Families declared (# TYPE) with no sample. `promtool check metrics` drops
 * such families before it lints, so a lint that should cover every name must
 * first see each of them with a sample. Pure.
 */
export function familiesWithoutSamples(text: string): string[] {
  const declared = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) declared.set(t[1] as string, t[2] as string);
    else if (!line.startsWith('#') && line.trim() !== '') sampled.add(LINE.exec(line)?.[1] ?? '');
  }
  return [...declared]
    .filter(([name, type]) => !(SAMPLE_SUFFIXES[type] ?? ['']).some((suffix) => sampled.has(name + suffix)))
    .map(([name]) => name);
}
