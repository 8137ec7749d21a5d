import { describe, expect, it } from 'vitest';
import {
  autoscalerConfig,
  decide,
  DEFAULT_TUNING,
  exceedsReservedConcurrency,
  initialState,
  instanceBounds,
  instancesFor,
  perInstanceTarget,
  reconfigure,
  RESERVED_CONCURRENCY_REASON,
  reservedInstanceCap,
  sampleDemand,
  surplus,
  type AutoscalerConfig,
  type AutoscalerState,
  type DecisionReason,
} from '../../src/autoscaler/core.js';
import { record, windowAverage, type Buckets } from '../../src/autoscaler/window.js';
import { specOf } from './fixtures.js';

/** Target 10 per instance at 100% utilisation unless a row says otherwise, so the arithmetic reads plainly. */
function cfg(over: Partial<AutoscalerConfig> = {}): AutoscalerConfig {
  return {
    ...autoscalerConfig(specOf({ concurrency: 10, scaling: { targetUtilizationPercent: 100, maxInstances: 100 } })),
    ...over,
  };
}

/** A state whose windows hold `history` (one value per second, ending at second `endSec - 1`). */
function stateWith(config: AutoscalerConfig, desired: number, history: readonly number[], endSec: number, extra: Partial<AutoscalerState> = {}): AutoscalerState {
  let buckets: Buckets = [];
  history.forEach((v, i) => {
    buckets = record(buckets, (endSec - history.length + i) * 1000, v, 3_600_000);
  });
  return { config, buckets, desired, ...extra };
}

describe('window', () => {
  it.each([
    { name: 'empty window', samples: [] as [number, number][], now: 10_000, win: 6000, want: undefined },
    { name: 'one sample', samples: [[10_000, 4]] as [number, number][], now: 10_000, win: 6000, want: 4 },
    { name: 'same second averages', samples: [[10_000, 4], [10_500, 8]] as [number, number][], now: 10_900, win: 6000, want: 6 },
    { name: 'older than window dropped', samples: [[1000, 100], [9000, 2], [10_000, 4]] as [number, number][], now: 10_000, win: 6000, want: 3 },
    { name: 'gaps are not zeros', samples: [[5000, 6], [10_000, 2]] as [number, number][], now: 10_000, win: 6000, want: 4 },
    { name: 'window edge is inclusive of the last whole seconds', samples: [[4000, 6], [5000, 12]] as [number, number][], now: 10_000, win: 6000, want: 12 },
  ])('$name', ({ samples, now, win, want }) => {
    let b: Buckets = [];
    for (const [t, v] of samples) b = record(b, t, v, 60_000);
    expect(windowAverage(b, now, win)).toBe(want);
  });

  it('prunes buckets beyond what it keeps and never reorders on a clock step back', () => {
    let b: Buckets = [];
    for (let s = 0; s < 100; s++) b = record(b, s * 1000, s, 10_000);
    expect(b.map((x) => x.sec)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    b = record(b, 50_000, 1, 10_000);
    expect(b.at(-1)).toEqual({ sec: 99, sum: 100, count: 2 });
  });
});

describe('arithmetic', () => {
  it.each([
    { demand: 0, target: 7, want: 0 },
    { demand: -3, target: 7, want: 0 },
    { demand: 0.001, target: 7, want: 1 },
    { demand: 7, target: 7, want: 1 },
    { demand: 7.0000000001, target: 7, want: 1 },
    { demand: 7.01, target: 7, want: 2 },
    { demand: 50, target: 7, want: 8 },
    { demand: 50, target: 10, want: 5 },
  ])('instancesFor($demand, $target) = $want', ({ demand, target, want }) => {
    expect(instancesFor(demand, target)).toBe(want);
  });

  it.each([
    { sample: { inFlight: 3, backlog: 0, ready: 1 }, drain: 10, want: 3 },
    { sample: { inFlight: 0, backlog: 100, ready: 0 }, drain: 10, want: 10 },
    { sample: { inFlight: 2, backlog: 30, ready: 0 }, drain: 5, want: 8 },
    { sample: { inFlight: -1, backlog: -5, ready: 0 }, drain: 10, want: 0 },
  ])('sampleDemand $sample over $drain s = $want', ({ sample, drain, want }) => {
    expect(sampleDemand(sample, { backlogDrainSeconds: drain })).toBe(want);
  });

  it('builds the config from the spec and the defaults', () => {
    const c = autoscalerConfig(specOf({ concurrency: 4 }));
    expect(c).toEqual({
      ...DEFAULT_TUNING,
      minInstances: 0,
      maxInstances: 10,
      concurrency: 4,
      targetConcurrency: 4,
      targetUtilizationPercent: 70,
      stableWindowSeconds: 60,
      scaleToZeroGracePeriodSeconds: 30,
      reservedConcurrency: undefined,
    });
    expect(perInstanceTarget(c)).toBeCloseTo(2.8);
    const t = autoscalerConfig(specOf({ concurrency: 4, scaling: { targetConcurrency: 2, targetUtilizationPercent: 50 } }), { panicWindowSeconds: 10 });
    expect(perInstanceTarget(t)).toBe(1);
    expect(t.panicWindowSeconds).toBe(10);
  });

  it.each([
    { min: 0, max: 10, reserved: undefined, conc: 1, want: { min: 0, max: 10 } },
    { min: 2, max: 10, reserved: 25, conc: 10, want: { min: 2, max: 3 } },
    { min: 5, max: 10, reserved: 25, conc: 10, want: { min: 3, max: 3 } },
    { min: 0, max: 10, reserved: 0, conc: 10, want: { min: 0, max: 0 } },
    { min: 0, max: 2, reserved: 1000, conc: 1, want: { min: 0, max: 2 } },
  ])('bounds min=$min max=$max reserved=$reserved concurrency=$conc', ({ min, max, reserved, conc, want }) => {
    expect(instanceBounds(cfg({ minInstances: min, maxInstances: max, reservedConcurrency: reserved, concurrency: conc }))).toEqual(want);
  });

  it.each([
    { reserved: undefined, conc: 10, cap: undefined },
    { reserved: 0, conc: 10, cap: 0 },
    { reserved: 1, conc: 10, cap: 1 },
    { reserved: 25, conc: 10, cap: 3 },
    { reserved: 30, conc: 10, cap: 3 },
  ])('reservedInstanceCap($reserved, $conc) = $cap', ({ reserved, conc, cap }) => {
    expect(reservedInstanceCap(reserved, conc)).toBe(cap);
  });

  it.each([
    { reserved: undefined, inFlight: 10_000, throttle: false },
    { reserved: 0, inFlight: 0, throttle: true },
    { reserved: 5, inFlight: 4, throttle: false },
    { reserved: 5, inFlight: 5, throttle: true },
  ])('exceedsReservedConcurrency(reserved=$reserved, inFlight=$inFlight) = $throttle', ({ reserved, inFlight, throttle }) => {
    expect(exceedsReservedConcurrency({ reservedConcurrency: reserved }, inFlight)).toBe(throttle);
    expect(RESERVED_CONCURRENCY_REASON).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
  });
});

describe('decide: one step from a known state', () => {
  const T = 100; // decisions happen at second 100
  type Row = {
    name: string;
    config?: Partial<AutoscalerConfig>;
    desired: number;
    history: number[];
    extra?: Partial<AutoscalerState>;
    sample: { inFlight: number; backlog?: number; ready: number };
    want: { desired: number; panic: boolean; reason: DecisionReason };
  };
  const rows: Row[] = [
    { name: 'steady load keeps its count', desired: 3, history: Array(60).fill(30), sample: { inFlight: 30, ready: 3 }, want: { desired: 3, panic: false, reason: 'stable' } },
    { name: 'stable average, not the latest sample, decides in calm', desired: 3, history: Array(60).fill(25), sample: { inFlight: 45, ready: 3 }, want: { desired: 3, panic: false, reason: 'stable' } },
    { name: 'a step beyond 200% of capacity panics on the first tick', desired: 1, history: Array(60).fill(1), sample: { inFlight: 50, ready: 1 }, want: { desired: 5, panic: true, reason: 'panic' } },
    { name: 'exactly 200% is not panic', desired: 1, history: [], sample: { inFlight: 20, ready: 1 }, want: { desired: 2, panic: false, reason: 'stable' } },
    { name: 'utilisation shrinks the per-instance target', config: { targetUtilizationPercent: 70 }, desired: 1, history: Array(60).fill(1), sample: { inFlight: 50, ready: 1 }, want: { desired: 8, panic: true, reason: 'panic' } },
    { name: 'no scale-down while in panic', desired: 8, history: Array(60).fill(1), extra: { panicUntilMs: (T + 30) * 1000 }, sample: { inFlight: 1, ready: 8 }, want: { desired: 8, panic: true, reason: 'panic-hold' } },
    { name: 'panic ends a stable window after its condition last held', desired: 8, history: Array(60).fill(1), extra: { panicUntilMs: T * 1000 }, sample: { inFlight: 1, ready: 8 }, want: { desired: 4, panic: false, reason: 'scale-down-rate' } },
    { name: 'scale-down rate halves at most', desired: 10, history: Array(60).fill(0), sample: { inFlight: 0, ready: 10 }, want: { desired: 5, panic: false, reason: 'scale-down-rate' } },
    { name: 'scale-down rate rounds up', desired: 3, history: Array(60).fill(0), sample: { inFlight: 0, ready: 3 }, want: { desired: 2, panic: false, reason: 'scale-down-rate' } },
    { name: 'scale-up rate bounds by ready instances', config: { maxScaleUpRate: 2 }, desired: 2, history: [], sample: { inFlight: 100, ready: 2 }, want: { desired: 4, panic: true, reason: 'scale-up-rate' } },
    { name: 'scale-up rate counts at least one ready instance', config: { maxScaleUpRate: 3 }, desired: 0, history: [], sample: { inFlight: 100, ready: 0 }, want: { desired: 3, panic: true, reason: 'scale-up-rate' } },
    { name: 'maxInstances caps', config: { maxInstances: 4 }, desired: 1, history: [], sample: { inFlight: 1000, ready: 1 }, want: { desired: 4, panic: true, reason: 'max-instances' } },
    { name: 'reserved concurrency caps below maxInstances', config: { reservedConcurrency: 25 }, desired: 1, history: [], sample: { inFlight: 1000, ready: 1 }, want: { desired: 3, panic: true, reason: 'max-instances' } },
    { name: 'minInstances floors an idle function', config: { minInstances: 2 }, desired: 2, history: Array(60).fill(0), sample: { inFlight: 0, ready: 2 }, want: { desired: 2, panic: false, reason: 'min-instances' } },
    { name: 'the last instance waits out the grace period', desired: 1, history: Array(60).fill(0), sample: { inFlight: 0, ready: 1 }, want: { desired: 1, panic: false, reason: 'scale-to-zero-grace' } },
    { name: 'and goes once it has passed', desired: 1, history: Array(60).fill(0), extra: { idleSinceMs: (T - 30) * 1000 }, sample: { inFlight: 0, ready: 1 }, want: { desired: 0, panic: false, reason: 'stable' } },
    { name: 'grace 0 goes at once', config: { scaleToZeroGracePeriodSeconds: 0 }, desired: 1, history: Array(60).fill(0), sample: { inFlight: 0, ready: 1 }, want: { desired: 0, panic: false, reason: 'stable' } },
    { name: 'a little traffic in the window keeps one instance', desired: 1, history: [1, ...Array(58).fill(0)], sample: { inFlight: 0, ready: 1 }, want: { desired: 1, panic: false, reason: 'stable' } },
    { name: 'an instance the dispatcher started between ticks gets the grace too', desired: 0, history: Array(60).fill(0), sample: { inFlight: 0, ready: 1 }, want: { desired: 1, panic: false, reason: 'scale-to-zero-grace' } },
    { name: 'zero stays zero', desired: 0, history: Array(60).fill(0), sample: { inFlight: 0, ready: 0 }, want: { desired: 0, panic: false, reason: 'stable' } },
    { name: 'first call from zero asks for one', desired: 0, history: Array(60).fill(0), sample: { inFlight: 1, ready: 0 }, want: { desired: 1, panic: false, reason: 'stable' } },
    { name: 'backlog alone scales from zero', desired: 0, history: [], sample: { inFlight: 0, backlog: 200, ready: 0 }, want: { desired: 2, panic: false, reason: 'stable' } },
    { name: 'a big backlog panics', desired: 1, history: [], sample: { inFlight: 0, backlog: 1000, ready: 1 }, want: { desired: 10, panic: true, reason: 'panic' } },
  ];

  it.each(rows)('$name', ({ config, desired, history, extra, sample, want }) => {
    const c = cfg(config);
    const s = stateWith(c, desired, history, T, extra);
    const d = decide(s, { backlog: 0, ...sample }, T * 1000);
    expect({ desired: d.desired, panic: d.panic, reason: d.reason }).toEqual(want);
    expect(d.state.desired).toBe(d.desired);
  });

  it('idle time at zero does not count towards the grace of the next cold start', () => {
    const c = cfg();
    let s = stateWith(c, 0, [], 0);
    for (let t = 0; t < 3600; t += 1) s = decide(s, { inFlight: 0, backlog: 0, ready: 0 }, t * 1000).state;
    expect(s.idleSinceMs).toBeUndefined();
    // The dispatcher started an instance for a call shorter than a tick.
    const d = decide(s, { inFlight: 0, backlog: 0, ready: 1 }, 3600 * 1000);
    expect({ desired: d.desired, reason: d.reason }).toEqual({ desired: 1, reason: 'scale-to-zero-grace' });
    const later = decide(d.state, { inFlight: 0, backlog: 0, ready: 1 }, (3600 + 31) * 1000);
    expect(later.desired).toBe(0);
  });

  it('does not mutate the state it is given', () => {
    const s = stateWith(cfg(), 1, [1, 2, 3], T);
    const frozen = JSON.stringify(s);
    decide(s, { inFlight: 50, backlog: 0, ready: 1 }, T * 1000);
    expect(JSON.stringify(s)).toBe(frozen);
  });

  it('initialState and reconfigure clamp to the bounds and keep history', () => {
    expect(initialState(cfg({ minInstances: 2 })).desired).toBe(2);
    expect(initialState(cfg({ maxInstances: 3 }), 7).desired).toBe(3);
    const s = stateWith(cfg(), 6, [5, 5], T);
    const r = reconfigure(s, cfg({ maxInstances: 4 }));
    expect(r.desired).toBe(4);
    expect(r.buckets).toBe(s.buckets);
  });

  it.each([
    // live, starting, desired, panic, inFlight (concurrency 10) → extra instances may go
    { live: 3, starting: 0, desired: 1, panic: false, inFlight: 8, go: true },
    { live: 3, starting: 0, desired: 1, panic: false, inFlight: 10, go: true },
    { live: 3, starting: 0, desired: 1, panic: false, inFlight: 11, go: false }, // the callers of now need more than one
    { live: 3, starting: 1, desired: 1, panic: false, inFlight: 0, go: false }, // the dispatcher is starting one for callers that wait
    { live: 3, starting: 0, desired: 1, panic: true, inFlight: 0, go: false },
    { live: 1, starting: 0, desired: 1, panic: false, inFlight: 0, go: false },
    { live: 1, starting: 0, desired: 0, panic: false, inFlight: 0, go: true },
    { live: 1, starting: 0, desired: 0, panic: false, inFlight: 1, go: false },
  ])('surplus: $live live ($starting starting), desired $desired, panic $panic, $inFlight in flight → $go', ({ go, ...o }) => {
    expect(surplus({ ...o, concurrency: 10 })).toBe(go);
  });
});
