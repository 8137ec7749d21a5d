// How many idle pods a pool keeps: twice the claims of one refill period at
// the recent rate, at least the latest burst, between minSize and maxSize.
import { describe, expect, it } from 'vitest';
import { POOL_RATE_WINDOW_MS, POOL_REFILL_MS, claimsPerMinute, desiredPoolSize } from '../../src/pools/pool-size.js';

const NOW = 1_800_000_000_000;
/** Claim times `ages` ms before NOW. */
const ago = (...ages: number[]) => ages.map((a) => NOW - a);
/** `n` claims evenly over the last minute, the newest `first` ms ago, `step` ms apart. */
const spread = (n: number, step: number, first = step / 2) => ago(...Array.from({ length: n }, (_, i) => first + i * step));

describe('claimsPerMinute', () => {
  it.each([
    { case: 'no claims', claims: [], windowMs: undefined, want: 0 },
    { case: 'three in the last minute', claims: ago(1_000, 20_000, 59_999), windowMs: undefined, want: 3 },
    { case: 'three in a 30 s window is six a minute', claims: ago(1_000, 2_000, 3_000), windowMs: 30_000, want: 6 },
    { case: 'one exactly a window old is out of it', claims: ago(60_000), windowMs: undefined, want: 0 },
    { case: 'one at this very moment counts', claims: ago(0), windowMs: undefined, want: 1 },
    { case: 'one from a clock ahead of ours does not', claims: ago(-5_000), windowMs: undefined, want: 0 },
  ])('$case: $want', ({ claims, windowMs, want }) => {
    expect(claimsPerMinute(claims, NOW, windowMs)).toBe(want);
  });
});

describe('desiredPoolSize', () => {
  it('takes the rate over 60 s and expects a new pod to be ready in 5 s', () => {
    expect(POOL_RATE_WINDOW_MS).toBe(60_000);
    expect(POOL_REFILL_MS).toBe(5_000);
  });

  it.each([
    { case: 'no claims keep minSize', min: 1, max: 5, claims: [], want: 1 },
    { case: 'no claims and minSize 0 keep none', min: 0, max: 5, claims: [], want: 0 },
    { case: 'one claim in the window keeps one even with minSize 0', min: 0, max: 5, claims: ago(30_000), want: 1 },
    { case: 'minSize wins over a low rate', min: 3, max: 5, claims: ago(30_000), want: 3 },
    { case: '12 a minute: 1 per refill period, twice over', min: 1, max: 5, claims: spread(12, 5_000), want: 2 },
    { case: '30 a minute: 2.5 per refill period, twice over', min: 1, max: 10, claims: spread(30, 2_000), want: 5 },
    { case: '60 a minute: 5 per refill period, twice over', min: 1, max: 20, claims: spread(60, 1_000), want: 10 },
    { case: 'maxSize caps the rate', min: 1, max: 5, claims: spread(60, 1_000), want: 5 },
    { case: 'a burst within one refill period is met as a whole', min: 1, max: 5, claims: ago(100, 200, 300, 400), want: 4 },
    { case: 'maxSize caps a burst', min: 1, max: 5, claims: ago(1, 2, 3, 4, 5, 6, 7, 8), want: 5 },
    { case: 'claims older than the window are forgotten', min: 1, max: 5, claims: spread(50, 1_000, 60_000), want: 1 },
    { case: 'claims from a clock ahead of ours are ignored', min: 1, max: 5, claims: ago(-1_000, -2_000, -3_000), want: 1 },
    { case: 'maxSize 0 keeps none, whatever the claims', min: 0, max: 0, claims: ago(1, 2, 3), want: 0 },
    { case: 'minSize equal to maxSize fixes the size', min: 4, max: 4, claims: spread(60, 1_000), want: 4 },
  ])('$case: $want', ({ min, max, claims, want }) => {
    expect(desiredPoolSize({ minSize: min, maxSize: max, claimTimes: claims, now: NOW })).toBe(want);
  });

  it('honours its own window and refill period', () => {
    // 5 claims in a 10 s window with pods ready in 1 s: 0.5 per refill, twice over: 1; none in the last second.
    expect(desiredPoolSize({ minSize: 0, maxSize: 10, claimTimes: ago(1_500, 3_000, 4_500, 6_000, 7_500), now: NOW, windowMs: 10_000, refillMs: 1_000 })).toBe(1);
    // The same claims with pods ready in 4 s: 2 per refill, twice over: 4.
    expect(desiredPoolSize({ minSize: 0, maxSize: 10, claimTimes: ago(1_500, 3_000, 4_500, 6_000, 7_500), now: NOW, windowMs: 10_000, refillMs: 4_000 })).toBe(4);
  });

  it('does not care about the order of claim times', () => {
    const claims = spread(30, 2_000);
    expect(desiredPoolSize({ minSize: 1, maxSize: 10, claimTimes: [...claims].reverse(), now: NOW })).toBe(desiredPoolSize({ minSize: 1, maxSize: 10, claimTimes: claims, now: NOW }));
  });

  it('shrinks back to minSize once a burst has left the window, and never grows with time alone', () => {
    // 6 claims in the last second: the burst while it is within a refill period, then the rate (6 a minute: 1), then minSize.
    const burst = ago(100, 200, 300, 400, 500, 600);
    const sizes = [0, 4_000, 10_000, 30_000, 59_000, 60_500, 120_000].map((later) => desiredPoolSize({ minSize: 0, maxSize: 10, claimTimes: burst, now: NOW + later }));
    expect(sizes).toEqual([6, 6, 1, 1, 1, 0, 0]);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1] ?? 0);
  });

  it('never shrinks when one more claim comes', () => {
    const claims: number[] = [];
    let last = desiredPoolSize({ minSize: 1, maxSize: 50, claimTimes: claims, now: NOW });
    for (let i = 0; i < 200; i++) {
      claims.push(NOW - ((i * 7_919) % 59_000));
      const size = desiredPoolSize({ minSize: 1, maxSize: 50, claimTimes: claims, now: NOW });
      expect(size).toBeGreaterThanOrEqual(last);
      last = size;
    }
    expect(last).toBe(34); // 200 a minute: ceil(2 × 200 × 5 / 60)
  });
});
