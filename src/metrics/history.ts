// The last hour of a gateway's metrics, for the console's charts: every 10 s
// the registry's totals per function are kept in a ring of 360 samples, and a
// function's series are the differences between neighbouring samples
// (counts per interval), its duration p50/p99 estimated from the histogram's
// bucket counts within each interval, and its gauges as sampled. Pure: the
// sampling timer and the route are src/gateway/plugins/metrics-history.ts.

/** One series family as prom-client's getMetricsAsJSON() gives it (only what is read here). */
export interface MetricFamily {
  name: string;
  values: ReadonlyArray<{ labels: Partial<Record<string, string | number>>; value: number; metricName?: string }>;
}

/** A function's totals at one moment: counters as counted since the process began, gauges as they stand. */
export interface FunctionTotals {
  invocations: number;
  errors: number;
  throttles: number;
  coldStarts: number;
  /** hearth_invocation_duration_seconds buckets: upper bound (seconds, Infinity for +Inf) -> cumulative count. */
  durationBuckets: Map<number, number>;
  instances: number;
  queueDepth: number;
  deadLetters: number;
}

export interface Snapshot {
  /** Milliseconds since the epoch. */
  at: number;
  functions: Map<string, FunctionTotals>;
}

export const SAMPLE_INTERVAL_MS = 10_000;
export const SAMPLES_KEPT = 360;

/** Function errors as Lambda's Errors metric counts them: the function answered with an error, handled or not. */
const ERROR_OUTCOMES = new Set(['handled', 'unhandled']);
/** Instances that exist (failed ones are gone or going). */
const LIVE_STATES = new Set(['starting', 'ready', 'draining']);
/** Events accepted and not finished: not yet delivered, delivered and running, or waiting for a retry. */
const QUEUE_DEPTH_FAMILIES = new Set(['hearth_queue_lag', 'hearth_queue_pending', 'hearth_queue_delayed']);

function empty(): FunctionTotals {
  return { invocations: 0, errors: 0, throttles: 0, coldStarts: 0, durationBuckets: new Map(), instances: 0, queueDepth: 0, deadLetters: 0 };
}

function bound(le: string | number | undefined): number | undefined {
  if (le === undefined) return undefined;
  if (le === '+Inf') return Infinity;
  const n = Number(le);
  return Number.isFinite(n) ? n : undefined;
}

/** Each function's totals in the registry's families (those that name no function are left out). */
export function takeSnapshot(families: readonly MetricFamily[], at: number): Snapshot {
  const functions = new Map<string, FunctionTotals>();
  const of = (fn: string): FunctionTotals => {
    let t = functions.get(fn);
    if (!t) functions.set(fn, (t = empty()));
    return t;
  };
  for (const family of families) {
    for (const v of family.values) {
      const fn = v.labels.function;
      if (typeof fn !== 'string' || !Number.isFinite(v.value)) continue;
      const t = of(fn);
      switch (family.name) {
        case 'hearth_invocations_total':
          t.invocations += v.value;
          if (ERROR_OUTCOMES.has(String(v.labels.outcome))) t.errors += v.value;
          break;
        case 'hearth_throttles_total':
          t.throttles += v.value;
          break;
        case 'hearth_cold_starts_total':
          t.coldStarts += v.value;
          break;
        case 'hearth_invocation_duration_seconds': {
          // Versions and types are summed bucket by bucket: every series shares the buckets.
          const le = v.metricName?.endsWith('_bucket') ? bound(v.labels.le) : undefined;
          if (le !== undefined) t.durationBuckets.set(le, (t.durationBuckets.get(le) ?? 0) + v.value);
          break;
        }
        case 'hearth_instances':
          if (LIVE_STATES.has(String(v.labels.state))) t.instances += v.value;
          break;
        case 'hearth_queue_dead_letters':
          t.deadLetters += v.value;
          break;
        default:
          if (QUEUE_DEPTH_FAMILIES.has(family.name)) t.queueDepth += v.value;
      }
    }
  }
  return { at, functions };
}

/** The snapshots of the last hour, oldest first; the oldest goes when a new one would exceed the capacity. */
export class SampleRing {
  readonly #items: Snapshot[] = [];
  constructor(readonly capacity = SAMPLES_KEPT) {}

  push(s: Snapshot): void {
    this.#items.push(s);
    if (this.#items.length > this.capacity) this.#items.splice(0, this.#items.length - this.capacity);
  }

  list(): readonly Snapshot[] {
    return this.#items;
  }
}

/**
 * The q-quantile (0..1) of the observations that fell between two cumulative
 * bucket counts, interpolated linearly within its bucket as Prometheus's
 * histogram_quantile does; null when none fell. A quantile in the +Inf bucket
 * is the highest finite bound.
 */
export function quantileFromBuckets(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => Math.max(0, (after.get(b) ?? 0) - (before.get(b) ?? 0)));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i] as number;
    const count = counts[i] as number;
    if (count >= rank) {
      if (upper === Infinity) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    }
    lower = upper;
    below = count;
  }
  return lower;
}

export interface HistorySeries {
  /** The function the series are of, or undefined for every function summed. */
  function?: string;
  intervalSeconds: number;
  /** End of each interval, seconds since the epoch. */
  t: number[];
  invocations: number[];
  errors: number[];
  throttles: number[];
  coldStarts: number[];
  /** Milliseconds; null where no invocation ended in the interval. */
  durationP50: Array<number | null>;
  durationP99: Array<number | null>;
  instances: number[];
  queueDepth: number[];
  deadLetters: number[];
}

/** A counter's increase; a lower total means the series was reset (a function removed and made again), so it counts from zero. */
function increase(before: number, after: number): number {
  return after >= before ? after - before : after;
}

type Counted = 'invocations' | 'errors' | 'throttles' | 'coldStarts';
type Gauged = 'instances' | 'queueDepth' | 'deadLetters';

/** The functions a series covers between two snapshots: the one named, or every one in the later snapshot. */
function covered(b: Snapshot, fn: string | undefined): string[] {
  return fn !== undefined ? [fn] : [...b.functions.keys()];
}

/** Summed over functions each by itself, so one function's reset does not take the others' counts with it. */
function counted(a: Snapshot, b: Snapshot, fn: string | undefined, key: Counted): number {
  let n = 0;
  for (const f of covered(b, fn)) n += increase(a.functions.get(f)?.[key] ?? 0, b.functions.get(f)?.[key] ?? 0);
  return n;
}

function gauged(b: Snapshot, fn: string | undefined, key: Gauged): number {
  let n = 0;
  for (const f of covered(b, fn)) n += b.functions.get(f)?.[key] ?? 0;
  return n;
}

/** The interval's duration observations as cumulative buckets (before, after), summed over the functions covered. */
function durationBuckets(a: Snapshot, b: Snapshot, fn: string | undefined): [Map<number, number>, Map<number, number>] {
  const before = new Map<number, number>();
  const after = new Map<number, number>();
  for (const f of covered(b, fn)) {
    const x = a.functions.get(f)?.durationBuckets ?? new Map<number, number>();
    const y = b.functions.get(f)?.durationBuckets ?? new Map<number, number>();
    // A reset histogram counts from zero as a counter does.
    const reset = (y.get(Infinity) ?? 0) < (x.get(Infinity) ?? 0);
    for (const [le, c] of y) {
      after.set(le, (after.get(le) ?? 0) + c);
      if (!reset) before.set(le, (before.get(le) ?? 0) + (x.get(le) ?? 0));
    }
  }
  return [before, after];
}

const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000 * 1000) / 1000);

/**
 * The series between consecutive snapshots (oldest first): one point per
 * interval, at its end. The last snapshot may be one taken for the request,
 * so the newest point covers the time since the last sample.
 */
export function historySeries(samples: readonly Snapshot[], fn?: string, intervalMs = SAMPLE_INTERVAL_MS): HistorySeries {
  const out: HistorySeries = {
    ...(fn !== undefined ? { function: fn } : {}),
    intervalSeconds: intervalMs / 1000,
    t: [],
    invocations: [],
    errors: [],
    throttles: [],
    coldStarts: [],
    durationP50: [],
    durationP99: [],
    instances: [],
    queueDepth: [],
    deadLetters: [],
  };
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Snapshot;
    const b = samples[i] as Snapshot;
    out.t.push(Math.round(b.at / 1000));
    out.invocations.push(counted(a, b, fn, 'invocations'));
    out.errors.push(counted(a, b, fn, 'errors'));
    out.throttles.push(counted(a, b, fn, 'throttles'));
    out.coldStarts.push(counted(a, b, fn, 'coldStarts'));
    const [before, after] = durationBuckets(a, b, fn);
    out.durationP50.push(ms(quantileFromBuckets(before, after, 0.5)));
    out.durationP99.push(ms(quantileFromBuckets(before, after, 0.99)));
    out.instances.push(gauged(b, fn, 'instances'));
    out.queueDepth.push(gauged(b, fn, 'queueDepth'));
    out.deadLetters.push(gauged(b, fn, 'deadLetters'));
  }
  return out;
}

export interface FunctionSummary {
  instances: number;
  /** Over the samples kept (up to an hour). */
  invocations: number;
  errors: number;
  throttles: number;
  deadLetters: number;
}

/** Per function, what the console's list shows: instances now, and invocations, errors and throttles over the samples kept. */
export function functionSummaries(samples: readonly Snapshot[]): Record<string, FunctionSummary> {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last) return {};
  const out: Record<string, FunctionSummary> = {};
  for (const [fn, b] of last.functions) {
    const a = samples.length > 1 ? (first.functions.get(fn) ?? empty()) : empty();
    out[fn] = {
      instances: b.instances,
      invocations: increase(a.invocations, b.invocations),
      errors: increase(a.errors, b.errors),
      throttles: increase(a.throttles, b.throttles),
      deadLetters: b.deadLetters,
    };
  }
  return out;
}
