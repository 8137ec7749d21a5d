// A pure simulation of the autoscaler on a modelled cluster: a load profile
// goes in, a series of {t, load, desired, ready} comes out. Instances take
// `startDelaySeconds` to become ready and stop at once when scaled away, which
// is the local backend's shape without its draining. Used by the tests and by
// bench/plot-autoscaler.ts; nothing here touches a clock or a process.
import { decide, initialState, type AutoscalerConfig, type DecisionReason } from './core.js';

export interface LoadPoint {
  /** Concurrent requests offered (sync calls plus async events being processed). */
  inFlight: number;
  /** Async events queued. */
  backlog?: number;
}

/** Load at `t` seconds from the start of the simulation. */
export type LoadProfile = (t: number) => number | LoadPoint;

export interface SimulationOptions {
  config: AutoscalerConfig;
  load: LoadProfile;
  durationSeconds: number;
  /** Seconds between decisions; the loop's tick. */
  tickSeconds?: number;
  /** Seconds from a scale-up decision to the new instance being ready. */
  startDelaySeconds?: number;
  /** Instances ready before t = 0 (default: minInstances). */
  initialReady?: number;
}

export interface SimulationPoint {
  t: number;
  /** Concurrency the autoscaler observed (offered load, capped by reserved concurrency). */
  load: number;
  backlog: number;
  desired: number;
  ready: number;
  panic: boolean;
  reason: DecisionReason;
}

export function simulate(opts: SimulationOptions): SimulationPoint[] {
  const tick = opts.tickSeconds ?? 1;
  const delay = opts.startDelaySeconds ?? 2;
  const reserved = opts.config.reservedConcurrency;
  const initial = opts.initialReady ?? opts.config.minInstances;
  // Each instance is the time it becomes (or became) ready.
  let instances: number[] = Array.from({ length: initial }, () => -Infinity);
  let state = initialState(opts.config, initial);
  const out: SimulationPoint[] = [];

  for (let i = 0; i * tick <= opts.durationSeconds; i++) {
    const t = i * tick;
    const point = asPoint(opts.load(t));
    // Calls beyond reserved concurrency are throttled at the dispatcher and never in flight.
    const inFlight = reserved === undefined ? point.inFlight : Math.min(point.inFlight, reserved);
    const backlog = point.backlog ?? 0;
    const readyNow = instances.filter((r) => r <= t).length;
    const d = decide(state, { inFlight, backlog, ready: readyNow }, t * 1000);
    state = d.state;
    instances = resize(instances, d.desired, t + delay);
    out.push({ t, load: inFlight, backlog, desired: d.desired, ready: instances.filter((r) => r <= t).length, panic: d.panic, reason: d.reason });
  }
  return out;
}

/** Grows with instances ready at `readyAt`; shrinks by dropping those still starting first, as a backend would. */
function resize(instances: readonly number[], desired: number, readyAt: number): number[] {
  if (desired >= instances.length) return [...instances, ...Array.from({ length: desired - instances.length }, () => readyAt)];
  return [...instances].sort((a, b) => a - b).slice(0, desired);
}

function asPoint(v: number | LoadPoint): LoadPoint {
  return typeof v === 'number' ? { inFlight: v } : v;
}

/** A piecewise-constant profile: each step holds from its `from` second until the next step. */
export function steps(list: readonly { from: number; load: number | LoadPoint }[]): LoadProfile {
  const sorted = [...list].sort((a, b) => a.from - b.from);
  return (t) => {
    let current: number | LoadPoint = 0;
    for (const s of sorted) if (s.from <= t) current = s.load;
    return current;
  };
}

/** How many times `key` changes along the series from index `from` on. */
export function changes(series: readonly SimulationPoint[], key: 'desired' | 'ready', from = 0): number {
  let n = 0;
  for (let i = Math.max(1, from + 1); i < series.length; i++) {
    if (series[i]?.[key] !== series[i - 1]?.[key]) n++;
  }
  return n;
}
