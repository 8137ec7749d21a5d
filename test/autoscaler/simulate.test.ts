// The behaviours, shown on the simulated cluster: decisions every
// simulated second, instances ready two seconds after they are asked for.
import { describe, expect, it } from 'vitest';
import { autoscalerConfig, type AutoscalerConfig } from '../../src/autoscaler/core.js';
import { changes, simulate, steps, type SimulationPoint } from '../../src/autoscaler/simulate.js';
import { specOf } from './fixtures.js';

/** targetConcurrency 10 at the default 70% utilisation: 7 concurrent calls per instance. */
function config(scaling: Record<string, number> = {}, over: Partial<AutoscalerConfig> = {}): AutoscalerConfig {
  return { ...autoscalerConfig(specOf({ concurrency: 10, scaling: { targetConcurrency: 10, maxInstances: 50, ...scaling } })), ...over };
}

function at(series: readonly SimulationPoint[], t: number): SimulationPoint {
  const p = series.find((x) => x.t === t);
  if (!p) throw new Error(`no point at t=${t}`);
  return p;
}

describe('simulated autoscaling', () => {
  it('a step from 1 to 50 concurrent requests reaches 5 instances within two ticks, in panic', () => {
    const s = simulate({ config: config({ minInstances: 1 }), load: steps([{ from: 0, load: 1 }, { from: 100, load: 50 }]), durationSeconds: 110 });
    expect(at(s, 99).desired).toBe(1);
    expect(at(s, 99).panic).toBe(false);
    const two = s.filter((p) => p.t >= 100 && p.t <= 101);
    expect(two.some((p) => p.desired >= 5)).toBe(true);
    expect(two.some((p) => p.panic)).toBe(true);
    // And the instances follow once they have started.
    expect(at(s, 103).ready).toBeGreaterThanOrEqual(5);
  });

  it('also with target 10 at 100% utilisation (5 instances exactly)', () => {
    const s = simulate({ config: config({ minInstances: 1, targetUtilizationPercent: 100 }), load: steps([{ from: 0, load: 1 }, { from: 100, load: 50 }]), durationSeconds: 102 });
    expect(at(s, 101).desired).toBeGreaterThanOrEqual(5);
  });

  it('constant load for 5 minutes changes the instance count zero times after settling', () => {
    const s = simulate({ config: config(), load: steps([{ from: 0, load: 0 }, { from: 10, load: 33 }]), durationSeconds: 10 + 60 + 300 });
    const settledAt = s.findIndex((p) => p.t === 70);
    expect(changes(s, 'desired', settledAt)).toBe(0);
    expect(changes(s, 'ready', settledAt)).toBe(0);
    expect(at(s, 370).desired).toBe(5);
  });

  it('noisy but steady load does not flap either', () => {
    // 28..38: the start from zero panics and may ratchet up on a peak, but
    // once panic is over, 5 instances of 7 carry it without a change.
    const s = simulate({ config: config(), load: (t) => (t < 10 ? 0 : 33 + 5 * Math.sin(t / 3)), durationSeconds: 90 + 300 });
    expect(s.filter((p) => p.t >= 90).every((p) => !p.panic)).toBe(true);
    expect(changes(s, 'desired', s.findIndex((p) => p.t === 90))).toBe(0);
    expect(at(s, 390).desired).toBe(5);
  });

  it('when load stops, scales to minInstances within the stable window', () => {
    const s = simulate({ config: config({ minInstances: 2 }), load: steps([{ from: 0, load: 50 }, { from: 120, load: 0 }]), durationSeconds: 300 });
    expect(at(s, 119).desired).toBe(8);
    expect(at(s, 121).desired).toBeGreaterThan(2);
    expect(at(s, 120 + 60).desired).toBe(2);
    expect(s.filter((p) => p.t >= 180).every((p) => p.desired === 2 && p.ready === 2)).toBe(true);
  });

  it('with minInstances 0, keeps one instance through the grace period, then goes to zero', () => {
    const s = simulate({ config: config(), load: steps([{ from: 0, load: 50 }, { from: 120, load: 0 }]), durationSeconds: 400 });
    // Idle from the stable window's point of view at 179 (its buckets 120..179 are all zero).
    expect(s.filter((p) => p.t >= 170 && p.t < 179 + 30).every((p) => p.desired >= 1)).toBe(true);
    expect(at(s, 179 + 29).desired).toBe(1);
    expect(at(s, 179 + 30).desired).toBe(0);
    expect(s.filter((p) => p.t >= 209).every((p) => p.desired === 0 && p.ready === 0)).toBe(true);
  });

  it('maxInstances holds however large the burst', () => {
    const s = simulate({ config: config({ maxInstances: 6 }), load: steps([{ from: 0, load: 1000 }]), durationSeconds: 120 });
    expect(Math.max(...s.map((p) => p.desired))).toBe(6);
    expect(Math.max(...s.map((p) => p.ready))).toBe(6);
  });

  it('reserved concurrency caps instances at ceil(reserved / concurrency)', () => {
    const c = { ...config(), reservedConcurrency: 25 };
    const s = simulate({ config: c, load: steps([{ from: 0, load: 1000 }]), durationSeconds: 60 });
    expect(Math.max(...s.map((p) => p.desired))).toBe(3);
    expect(Math.max(...s.map((p) => p.load))).toBe(25);
  });

  it('the scale-down rate holds: never below half the previous count in one tick', () => {
    // One-second windows so the averages drop at once and only the rate holds the count back.
    const c = config({ scaleToZeroGracePeriodSeconds: 0 }, { stableWindowSeconds: 1, panicWindowSeconds: 1 });
    const s = simulate({ config: c, load: steps([{ from: 0, load: 300 }, { from: 60, load: 0 }]), durationSeconds: 120 });
    expect(at(s, 59).desired).toBe(43);
    for (let i = 1; i < s.length; i++) {
      const prev = s[i - 1]!;
      const cur = s[i]!;
      if (prev.desired > 1) expect(cur.desired).toBeGreaterThanOrEqual(Math.ceil(prev.desired / c.maxScaleDownRate));
    }
    const down = s.filter((p) => p.t >= 59).map((p) => p.desired);
    expect(down.slice(0, 9)).toEqual([43, 22, 11, 6, 3, 2, 1, 0, 0]);
  });

  it('a backlog with no in-flight calls scales up, and down once drained', () => {
    const s = simulate({
      config: config(),
      load: steps([{ from: 0, load: 0 }, { from: 30, load: { inFlight: 0, backlog: 400 } }, { from: 90, load: 0 }]),
      durationSeconds: 300,
    });
    expect(at(s, 29).desired).toBe(0);
    expect(at(s, 31).desired).toBeGreaterThanOrEqual(1);
    // 400 events to drain in 10 s is 40 concurrent, or 6 instances of 7.
    expect(Math.max(...s.map((p) => p.desired))).toBe(6);
    expect(at(s, 300).desired).toBe(0);
  });
});
