import { describe, expect, it } from 'vitest';
import { quietWaitMs } from './quiet-period.js';

describe('quietWaitMs: the preStop drain waits for callers to go quiet', () => {
  const base = { drainStartedAt: 10_000, quietMs: 2000, maxMs: 5000 };
  it.each([
    // no call since long before the drain: the quiet counts from the drain's start
    { now: 10_000, lastCallAt: 0, want: 2000 },
    { now: 11_500, lastCallAt: 0, want: 500 },
    { now: 12_000, lastCallAt: 0, want: 0 },
    // a call during the drain restarts the quiet
    { now: 12_000, lastCallAt: 11_800, want: 1800 },
    { now: 13_800, lastCallAt: 11_800, want: 0 },
    // callers that keep sending cannot hold the pod past the cap
    { now: 14_500, lastCallAt: 14_400, want: 500 },
    { now: 15_000, lastCallAt: 14_999, want: 0 },
    { now: 16_000, lastCallAt: 15_900, want: 0 },
  ])('now $now, last call $lastCallAt → $want ms', ({ now, lastCallAt, want }) => {
    expect(quietWaitMs({ ...base, now, lastCallAt })).toBe(want);
  });
});
