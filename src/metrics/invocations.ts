// Metrics of invocations, recorded once per invocation at the dispatch
// boundary. Billed duration and billed memory-time feed the cost model
// C = k·t + p·n (t: GB-seconds, i.e. billed duration × memory; n: requests).
// Both are counted in base units, as Prometheus names them (seconds,
// byte-seconds): `hearth cost` and the dashboard turn byte-seconds into
// Lambda's GB-seconds (a GB there is 1024 MB, 2^30 bytes).
// Every series names the function and the version that ran (`$LATEST` or a
// number; src/versions/units.ts unitLabels), so `sum by (function)` still
// gives a function's totals and a canary's version can be told apart.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type InvocationOutcome = 'success' | 'handled' | 'unhandled' | 'throttled' | 'unavailable' | 'not_found';

export interface InvocationMetrics {
  invocations: Counter<'function' | 'version' | 'type' | 'outcome'>;
  duration: Histogram<'function' | 'version' | 'type'>;
  coldStarts: Counter<'function' | 'version'>;
  initDuration: Histogram<'function' | 'version'>;
  inFlight: Gauge<'function' | 'version'>;
  throttles: Counter<'function' | 'version' | 'reason'>;
  billedSeconds: Counter<'function' | 'version'>;
  billedByteSeconds: Counter<'function' | 'version'>;
  instances: Gauge<'function' | 'version' | 'state'>;
  redispatches: Counter<'function' | 'version' | 'reason'>;
  /**
   * The per-call path: one unit's series (a function's version), made once and
   * kept. Recording a call through it is plain arithmetic; the counters and
   * the in-flight gauge take the sums when the registry is read (/metrics, the
   * console's history, get()), so a scrape sees every call recorded before it.
   */
  unit(labels: UnitLabels): UnitSeries;
}

export interface UnitLabels {
  function: string;
  version: string;
}

type InvocationType = 'sync' | 'async';

/**
 * What prom-client did per call, label by label (a sorted hash of the labels
 * and a check of their names for each of six updates, about 2.6 % of the
 * gateway's CPU in the gateway bench: docs/performance.md), done here once per
 * series: the label objects are built when a series is first used, and a call
 * adds to numbers. Only the duration histogram is observed per call (its
 * buckets have no bulk update), with labels built once.
 */
export class UnitSeries {
  readonly labels: Readonly<UnitLabels>;
  /** Calls running now (the in-flight gauge's value). */
  running = 0;
  /** Counts per type and outcome since the last read, with their labels. */
  readonly #counts = new Map<string, { labels: Record<'function' | 'version' | 'type' | 'outcome', string>; n: number }>();
  readonly #durationLabels = new Map<InvocationType, Record<'function' | 'version' | 'type', string>>();
  /** Billed whole milliseconds and megabyte-milliseconds since the last read: integers, so the sums are exact. */
  #billedMs = 0;
  #billedMbMs = 0;
  readonly #duration: Histogram<'function' | 'version' | 'type'>;

  constructor(labels: UnitLabels, duration: Histogram<'function' | 'version' | 'type'>) {
    this.labels = { function: labels.function, version: labels.version };
    this.#duration = duration;
  }

  /** One finished call: its outcome, duration and billed time at `memoryMB`. */
  record(type: InvocationType, outcome: InvocationOutcome, durationMs: number, memoryMB: number): void {
    this.count(type, outcome);
    let labels = this.#durationLabels.get(type);
    if (labels === undefined) {
      labels = { ...this.labels, type };
      this.#durationLabels.set(type, labels);
    }
    this.#duration.observe(labels, durationMs / 1000);
    const billed = billedMilliseconds(durationMs);
    this.#billedMs += billed;
    this.#billedMbMs += billed * memoryMB;
  }

  /** One call counted with its outcome (record() counts it too). */
  count(type: InvocationType, outcome: InvocationOutcome): void {
    const key = type === 'sync' ? outcome : `${type}:${outcome}`;
    const c = this.#counts.get(key);
    if (c !== undefined) c.n++;
    else this.#counts.set(key, { labels: { ...this.labels, type, outcome }, n: 1 });
  }

  /** Hands what was counted since the last read to the registry's metrics. */
  flushCounts(invocations: Counter<'function' | 'version' | 'type' | 'outcome'>): void {
    for (const c of this.#counts.values()) {
      if (c.n === 0) continue;
      invocations.inc(c.labels, c.n);
      c.n = 0;
    }
  }

  flushBilled(billedSeconds: Counter<'function' | 'version'>, billedByteSeconds: Counter<'function' | 'version'>, which: 'seconds' | 'bytes'): void {
    if (which === 'seconds' && this.#billedMs > 0) {
      billedSeconds.inc(this.labels, this.#billedMs / 1000);
      this.#billedMs = 0;
    }
    if (which === 'bytes' && this.#billedMbMs > 0) {
      billedByteSeconds.inc(this.labels, (this.#billedMbMs / 1000) * 2 ** 20);
      this.#billedMbMs = 0;
    }
  }
}

/** Invocation and init durations, gateway-wide and in each agent (agent.ts): the same buckets, so their quantiles compare. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export function createInvocationMetrics(registry: Registry): InvocationMetrics {
  const registers = [registry];
  // Every unit's series: filled as units are first called, read by the collect() of the metrics they feed.
  const units = new Map<string, UnitSeries>();
  const duration = new Histogram({ name: 'hearth_invocation_duration_seconds', help: 'Time from hand-over to the runtime until its answer.', labelNames: ['function', 'version', 'type'], buckets: DURATION_BUCKETS, registers });
  const metrics: InvocationMetrics = {
    invocations: new Counter({
      name: 'hearth_invocations_total',
      help: 'Invocations by function, version, type (sync, async) and outcome.',
      labelNames: ['function', 'version', 'type', 'outcome'],
      registers,
      collect() {
        for (const u of units.values()) u.flushCounts(this);
      },
    }),
    duration,
    coldStarts: new Counter({ name: 'hearth_cold_starts_total', help: 'Invocations served by an instance\'s first request after init.', labelNames: ['function', 'version'], registers }),
    initDuration: new Histogram({ name: 'hearth_init_duration_seconds', help: 'Init phase of instances that served a cold start.', labelNames: ['function', 'version'], buckets: DURATION_BUCKETS, registers }),
    inFlight: new Gauge({
      name: 'hearth_inflight_invocations',
      help: 'Invocations running now.',
      labelNames: ['function', 'version'],
      registers,
      collect() {
        for (const u of units.values()) this.set(u.labels, u.running);
      },
    }),
    throttles: new Counter({ name: 'hearth_throttles_total', help: 'Invocations refused for lack of concurrency.', labelNames: ['function', 'version', 'reason'], registers }),
    billedSeconds: new Counter({
      name: 'hearth_billed_duration_seconds_total',
      help: 'Billed duration in seconds (each invocation rounded up to a whole millisecond first).',
      labelNames: ['function', 'version'],
      registers,
      collect() {
        for (const u of units.values()) u.flushBilled(this, metrics.billedByteSeconds, 'seconds');
      },
    }),
    billedByteSeconds: new Counter({
      name: 'hearth_billed_byte_seconds_total',
      help: 'Billed duration × configured memory, in byte-seconds (Lambda\'s GB-second is 2^30 of them).',
      labelNames: ['function', 'version'],
      registers,
      collect() {
        for (const u of units.values()) u.flushBilled(metrics.billedSeconds, this, 'bytes');
      },
    }),
    instances: new Gauge({ name: 'hearth_instances', help: 'Instances by state.', labelNames: ['function', 'version', 'state'], registers }),
    redispatches: new Counter({
      name: 'hearth_redispatches_total',
      help: 'Invocations sent again to another instance because the one chosen provably never ran them (it was draining, or could not be connected to), by reason.',
      labelNames: ['function', 'version', 'reason'],
      registers,
    }),
    unit(labels) {
      const key = `${labels.function}\0${labels.version}`;
      let u = units.get(key);
      if (u === undefined) {
        u = new UnitSeries(labels, duration);
        units.set(key, u);
      }
      return u;
    },
  };
  return metrics;
}

/** Lambda bills each invocation rounded up to the next millisecond. */
export function billedMilliseconds(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs));
}

/** Bytes in Lambda's GB (1024 MB): GB-seconds are byte-seconds over this. */
export const BYTES_PER_GB = 2 ** 30;

/** Billed duration × memory in byte-seconds, what hearth_billed_byte_seconds_total counts. */
export function byteSeconds(billedMs: number, memoryMB: number): number {
  return (billedMs / 1000) * memoryMB * 2 ** 20;
}

/** The cost model C = k·t + p·n, with t in GB-seconds and n requests. */
export function cost(opts: { gbSeconds: number; requests: number; pricePerGbSecond: number; pricePerRequest: number }): number {
  return opts.pricePerGbSecond * opts.gbSeconds + opts.pricePerRequest * opts.requests;
}

/** AWS's published x86 prices, as the default k and p of `hearth cost`. */
export const DEFAULT_PRICES = { pricePerGbSecond: 0.0000166667, pricePerRequest: 0.0000002 } as const;
