// The autoscaling arithmetic, after the shape of Knative's KPA: a stable
// window that decides in calm times, a short panic window that reacts to
// bursts, rate limits both ways, and a grace period before the last instance
// goes. Pure: no I/O, no clock of its own (time comes in as `nowMs`), no
// mutation of the state it is given. The loop (loop.ts) is the imperative
// shell around it; simulate.ts drives it on a modelled cluster.
import { targetConcurrency, type FunctionSpec } from '../api/function.js';
import { record, windowAverage, type Buckets } from './window.js';

/** Knobs the Function spec does not carry; process-wide, with Knative-like defaults. */
export interface AutoscalerTuning {
  /** Length of the panic window (Knative: 6 s). */
  panicWindowSeconds: number;
  /** Panic when panic-window demand exceeds this share of current capacity. */
  panicThresholdPercent: number;
  /** Desired may be at most this multiple of the ready instances (never below 1 ready). */
  maxScaleUpRate: number;
  /** Desired may fall at most by this factor per decision. */
  maxScaleDownRate: number;
  /** Queued async events count as demand enough to drain them in this time, at about a second per event. */
  backlogDrainSeconds: number;
}

export const DEFAULT_TUNING: Readonly<AutoscalerTuning> = Object.freeze({
  panicWindowSeconds: 6,
  panicThresholdPercent: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  backlogDrainSeconds: 10,
});

export interface AutoscalerConfig extends AutoscalerTuning {
  minInstances: number;
  maxInstances: number;
  /** Invocations one instance runs at once (spec.concurrency). */
  concurrency: number;
  /** Per-instance concurrency aimed for before utilisation (spec.scaling.targetConcurrency ?? concurrency). */
  targetConcurrency: number;
  targetUtilizationPercent: number;
  stableWindowSeconds: number;
  scaleToZeroGracePeriodSeconds: number;
  /** The function's cap on concurrent invocations, when set. */
  reservedConcurrency?: number | undefined;
}

/** The autoscaler's view of one function, from its spec and the process-wide tuning. */
export function autoscalerConfig(spec: FunctionSpec, tuning: Partial<AutoscalerTuning> = {}): AutoscalerConfig {
  return {
    ...DEFAULT_TUNING,
    ...tuning,
    minInstances: spec.scaling.minInstances,
    maxInstances: spec.scaling.maxInstances,
    concurrency: spec.concurrency,
    targetConcurrency: targetConcurrency(spec),
    targetUtilizationPercent: spec.scaling.targetUtilizationPercent,
    stableWindowSeconds: spec.scaling.stableWindowSeconds,
    scaleToZeroGracePeriodSeconds: spec.scaling.scaleToZeroGracePeriodSeconds,
    reservedConcurrency: spec.reservedConcurrency,
  };
}

// ---------------------------------------------------------------------------
// Reserved concurrency: shared with the dispatcher, which enforces the 429.

/** Lambda's throttle reason when a function's reserved concurrency is used up. */
export const RESERVED_CONCURRENCY_REASON = 'ReservedFunctionConcurrentInvocationLimitExceeded';

/** Instances that reserved concurrency can keep busy; undefined when the function has no cap. */
export function reservedInstanceCap(reservedConcurrency: number | undefined, concurrency: number): number | undefined {
  if (reservedConcurrency === undefined) return undefined;
  return Math.ceil(reservedConcurrency / Math.max(1, concurrency));
}

/**
 * Whether a new synchronous call must be throttled (429, RESERVED_CONCURRENCY_REASON)
 * given the calls already in flight for the function. Async events are never
 * throttled by this: they wait in the queue.
 */
export function exceedsReservedConcurrency(spec: Pick<FunctionSpec, 'reservedConcurrency'>, inFlight: number): boolean {
  return spec.reservedConcurrency !== undefined && inFlight + 1 > spec.reservedConcurrency;
}

/** The instance bounds after reserved concurrency: provisioned instances beyond the cap could never be used. */
export function instanceBounds(config: AutoscalerConfig): { min: number; max: number } {
  const cap = reservedInstanceCap(config.reservedConcurrency, config.concurrency);
  const max = cap === undefined ? config.maxInstances : Math.min(config.maxInstances, cap);
  return { min: Math.min(config.minInstances, max), max };
}

/** Concurrency one instance should carry: the target times the utilisation. */
export function perInstanceTarget(config: AutoscalerConfig): number {
  return (config.targetConcurrency * config.targetUtilizationPercent) / 100;
}

/** Instances needed to carry `demand` at `target` each. The epsilon keeps 49.000000001 / 7 from asking for an eighth instance. */
export function instancesFor(demand: number, target: number): number {
  if (demand <= 0) return 0;
  return Math.max(1, Math.ceil(demand / target - 1e-9));
}

/** Demand one sample stands for: calls and events running now, plus the concurrency that would drain the backlog in time. */
export function sampleDemand(sample: Sample, config: Pick<AutoscalerTuning, 'backlogDrainSeconds'>): number {
  return Math.max(0, sample.inFlight) + Math.max(0, sample.backlog) / Math.max(1e-9, config.backlogDrainSeconds);
}

// ---------------------------------------------------------------------------
// State and decision.

export interface AutoscalerState {
  readonly config: AutoscalerConfig;
  /** Demand samples, kept for the longer of the two windows. */
  readonly buckets: Buckets;
  /** The last decision. */
  readonly desired: number;
  /** Panic lasts until this time; extended by a stable window each time the panic condition holds. */
  readonly panicUntilMs?: number | undefined;
  /** Since when the stable window has seen no demand at all; starts the scale-to-zero grace period. */
  readonly idleSinceMs?: number | undefined;
}

export interface Sample {
  /** Synchronous calls in flight (including callers waiting for an instance) plus async events being processed. */
  inFlight: number;
  /** Async events queued and not yet started. */
  backlog: number;
  /** Instances ready to serve now. */
  ready: number;
}

export type DecisionReason =
  | 'stable'
  | 'panic'
  | 'panic-hold'
  | 'scale-up-rate'
  | 'scale-down-rate'
  | 'scale-to-zero-grace'
  | 'min-instances'
  | 'max-instances';

export interface Decision {
  desired: number;
  panic: boolean;
  state: AutoscalerState;
  /** Which rule had the last word. */
  reason: DecisionReason;
  /** This sample's demand, the stable-window average and the panic-window demand, for metrics and plots. */
  demand: number;
  stableDemand: number;
  panicDemand: number;
}

/**
 * A fresh state. `current` is how many instances exist already (a new leader
 * taking over, a process restart), so the rate limits start from reality
 * rather than from zero.
 */
export function initialState(config: AutoscalerConfig, current = 0): AutoscalerState {
  const { min, max } = instanceBounds(config);
  return { config, buckets: [], desired: clamp(current, min, max) };
}

/** Takes a changed spec while keeping the measured history. */
export function reconfigure(state: AutoscalerState, config: AutoscalerConfig): AutoscalerState {
  const { min, max } = instanceBounds(config);
  return { ...state, config, desired: clamp(state.desired, min, max) };
}

export function decide(state: AutoscalerState, sample: Sample, nowMs: number): Decision {
  const c = state.config;
  const { min, max } = instanceBounds(c);
  const target = perInstanceTarget(c);
  const stableMs = c.stableWindowSeconds * 1000;
  const panicMs = c.panicWindowSeconds * 1000;
  const prev = state.desired;
  const ready = Math.max(0, sample.ready);

  const demand = sampleDemand(sample, c);
  const buckets = record(state.buckets, nowMs, demand, Math.max(stableMs, panicMs));
  const stableDemand = windowAverage(buckets, nowMs, stableMs) ?? demand;
  // The latest sample counts as well as the panic-window average: callers
  // already waiting at the dispatcher are real, and a 6 s average would take
  // several ticks to notice a step that is plain now.
  const panicDemand = Math.max(windowAverage(buckets, nowMs, panicMs) ?? demand, demand);

  // Capacity counts at least one instance so that scaling from zero is left
  // to the stable path unless the first demand is a burst in its own right.
  const capacity = Math.max(1, ready) * target;
  const overThreshold = panicDemand > 0 && panicDemand > (capacity * c.panicThresholdPercent) / 100;
  const panicUntilMs = overThreshold ? nowMs + stableMs : state.panicUntilMs;
  const panic = panicUntilMs !== undefined && nowMs < panicUntilMs;

  const stableWant = instancesFor(stableDemand, target);
  let want = panic ? Math.max(instancesFor(panicDemand, target), stableWant) : stableWant;
  let reason: DecisionReason = panic ? 'panic' : 'stable';

  const upLimit = Math.ceil(c.maxScaleUpRate * Math.max(1, ready));
  if (want > upLimit) {
    want = upLimit;
    reason = 'scale-up-rate';
  }
  // The step from one instance to none is the grace period's business, not the rate's.
  const downLimit = prev > 1 ? Math.ceil(prev / c.maxScaleDownRate) : 0;
  if (want < downLimit) {
    want = downLimit;
    reason = 'scale-down-rate';
  }
  if (panic && want < prev) {
    want = prev;
    reason = 'panic-hold';
  }

  // The grace protects every instance that exists, including one the
  // dispatcher started for a call shorter than a sampling tick (the
  // autoscaler then never saw demand, and its own last decision was 0). The
  // idle clock runs only while an instance exists, so a function idle at
  // zero for an hour gets a full grace period after its next cold start.
  const exists = prev > 0 || ready > 0;
  const idleSinceMs = stableDemand === 0 && !panic && exists ? (state.idleSinceMs ?? nowMs) : undefined;
  if (want === 0 && exists && idleSinceMs !== undefined && nowMs - idleSinceMs < c.scaleToZeroGracePeriodSeconds * 1000) {
    want = 1;
    reason = 'scale-to-zero-grace';
  }

  if (want < min) {
    want = min;
    reason = 'min-instances';
  } else if (want > max) {
    want = max;
    reason = 'max-instances';
  }

  const next: AutoscalerState = { config: c, buckets, desired: want, panicUntilMs: panic ? panicUntilMs : undefined, idleSinceMs };
  return { desired: want, panic, state: next, reason, demand, stableDemand, panicDemand };
}

/**
 * More instances live than decided, and they may go now. The dispatcher
 * starts instances for callers that wait (a burst between two ticks), so
 * the backend may hold more than the last decision, and nothing else stops
 * them while the decision stays the same. They go once none is starting,
 * the panic is over and the demand of now fits in the decided count at the
 * instances' full concurrency: no caller then waits for what this stops.
 */
export function surplus(o: { live: number; starting: number; desired: number; panic: boolean; inFlight: number; concurrency: number }): boolean {
  return o.live > o.desired && o.starting === 0 && !o.panic && o.inFlight <= o.desired * o.concurrency;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
