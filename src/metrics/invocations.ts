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
}

/** Invocation and init durations, gateway-wide and in each agent (agent.ts): the same buckets, so their quantiles compare. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export function createInvocationMetrics(registry: Registry): InvocationMetrics {
  const registers = [registry];
  return {
    invocations: new Counter({ name: 'hearth_invocations_total', help: 'Invocations by function, version, type (sync, async) and outcome.', labelNames: ['function', 'version', 'type', 'outcome'], registers }),
    duration: new Histogram({ name: 'hearth_invocation_duration_seconds', help: 'Time from hand-over to the runtime until its answer.', labelNames: ['function', 'version', 'type'], buckets: DURATION_BUCKETS, registers }),
    coldStarts: new Counter({ name: 'hearth_cold_starts_total', help: 'Invocations served by an instance\'s first request after init.', labelNames: ['function', 'version'], registers }),
    initDuration: new Histogram({ name: 'hearth_init_duration_seconds', help: 'Init phase of instances that served a cold start.', labelNames: ['function', 'version'], buckets: DURATION_BUCKETS, registers }),
    inFlight: new Gauge({ name: 'hearth_inflight_invocations', help: 'Invocations running now.', labelNames: ['function', 'version'], registers }),
    throttles: new Counter({ name: 'hearth_throttles_total', help: 'Invocations refused for lack of concurrency.', labelNames: ['function', 'version', 'reason'], registers }),
    billedSeconds: new Counter({ name: 'hearth_billed_duration_seconds_total', help: 'Billed duration in seconds (each invocation rounded up to a whole millisecond first).', labelNames: ['function', 'version'], registers }),
    billedByteSeconds: new Counter({
      name: 'hearth_billed_byte_seconds_total',
      help: 'Billed duration × configured memory, in byte-seconds (Lambda\'s GB-second is 2^30 of them).',
      labelNames: ['function', 'version'],
      registers,
    }),
    instances: new Gauge({ name: 'hearth_instances', help: 'Instances by state.', labelNames: ['function', 'version', 'state'], registers }),
    redispatches: new Counter({
      name: 'hearth_redispatches_total',
      help: 'Invocations sent again to another instance because the one chosen provably never ran them (it was draining, or could not be connected to), by reason.',
      labelNames: ['function', 'version', 'reason'],
      registers,
    }),
  };
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
