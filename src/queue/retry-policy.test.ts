import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { functionErrorDelayMs, isTooOld, nextStep, systemBackoffMs, type RetryInput } from './retry-policy.js';

const base: RetryInput = { kind: 'function', functionErrors: 1, systemErrors: 0, enqueuedAt: 0, now: 1000, maxRetries: 2, maxEventAgeSeconds: 21_600 };

describe('retry policy', () => {
  it('retries function errors after 1 minute, then 2 minutes, then gives up', () => {
    expect(nextStep({ ...base, functionErrors: 1 })).toEqual({ action: 'retry', delayMs: 60_000, dueAt: 61_000 });
    expect(nextStep({ ...base, functionErrors: 2 })).toEqual({ action: 'retry', delayMs: 120_000, dueAt: 121_000 });
    expect(nextStep({ ...base, functionErrors: 3 })).toEqual({ action: 'dead-letter', condition: 'RetriesExhausted', reason: 'retries-exhausted' });
  });

  it('honours maxRetries 0 and 1', () => {
    expect(nextStep({ ...base, maxRetries: 0 }).action).toBe('dead-letter');
    expect(nextStep({ ...base, maxRetries: 1, functionErrors: 1 }).action).toBe('retry');
    expect(nextStep({ ...base, maxRetries: 1, functionErrors: 2 }).action).toBe('dead-letter');
  });

  it('backs off system errors from 1 s, doubling, up to 5 min', () => {
    expect([1, 2, 3, 4, 9, 10, 50].map(systemBackoffMs)).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
    expect(nextStep({ ...base, kind: 'system', functionErrors: 0, systemErrors: 1 })).toMatchObject({ action: 'retry', delayMs: 1000 });
  });

  it('retries system errors without limit of count while the event is young enough', () => {
    expect(nextStep({ ...base, kind: 'system', systemErrors: 40, functionErrors: 5 }).action).toBe('retry');
  });

  it('gives up with EventAgeExceeded when the next attempt would be past the maximum age', () => {
    const old = { ...base, kind: 'system' as const, systemErrors: 1, enqueuedAt: 0, maxEventAgeSeconds: 60 };
    expect(nextStep({ ...old, now: 58_000 }).action).toBe('retry');
    expect(nextStep({ ...old, now: 59_500 })).toEqual({ action: 'dead-letter', condition: 'EventAgeExceeded', reason: 'event-too-old' });
    expect(nextStep({ ...base, maxEventAgeSeconds: 60 })).toMatchObject({ condition: 'EventAgeExceeded' });
  });

  it('dead-letters not-found at once', () => {
    expect(nextStep({ ...base, kind: 'not-found' })).toMatchObject({ action: 'dead-letter', reason: 'not-found' });
  });

  it('scales delays for tests', () => {
    expect(nextStep({ ...base, timeScale: 0.001 })).toMatchObject({ delayMs: 60 });
    expect(nextStep({ ...base, kind: 'system', systemErrors: 1, timeScale: 0.001 })).toMatchObject({ delayMs: 1 });
  });

  it('is too old strictly past the maximum age', () => {
    expect(isTooOld(0, 60_000, 60)).toBe(false);
    expect(isTooOld(0, 60_001, 60)).toBe(true);
  });

  it('never schedules a retry past the maximum age, and always moves forward in time', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('function' as const, 'system' as const),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 60, max: 21_600 }),
        fc.integer({ min: 0, max: 30_000_000 }),
        (kind, n, maxRetries, maxAge, elapsed) => {
          const d = nextStep({ kind, functionErrors: n, systemErrors: n, enqueuedAt: 1e12, now: 1e12 + elapsed, maxRetries, maxEventAgeSeconds: maxAge });
          if (d.action === 'retry') {
            expect(d.dueAt).toBeGreaterThan(1e12 + elapsed);
            expect(d.dueAt - 1e12).toBeLessThanOrEqual(maxAge * 1000);
            if (kind === 'function') expect(n).toBeLessThanOrEqual(maxRetries);
          }
        },
      ),
    );
    expect(functionErrorDelayMs(7)).toBe(120_000);
  });
});
