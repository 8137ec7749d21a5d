// What happens to an event after an attempt that did not succeed, as Lambda
// does it for asynchronous invocations. Pure: the caller passes the clock.
//
// - A function error (the function ran and failed) is retried up to
//   maxRetries times, after 1 minute and then 2 minutes.
// - A throttle or system error (the function did not run) is retried with
//   exponential backoff from 1 second up to 5 minutes, for as long as the
//   event is younger than maxEventAgeSeconds.
// - An event whose next attempt would fall past its maximum age is given up
//   now rather than kept until then: the outcome is the same and the
//   dead-letter stream shows it sooner.

export const FUNCTION_ERROR_DELAYS_MS: readonly number[] = [60_000, 120_000];
export const SYSTEM_BACKOFF_MIN_MS = 1_000;
export const SYSTEM_BACKOFF_MAX_MS = 300_000;

export type FailureKind = 'function' | 'system' | 'not-found';

export type DeadLetterCondition = 'RetriesExhausted' | 'EventAgeExceeded';

export interface RetryInput {
  kind: FailureKind;
  /** Function errors so far, counting the one just seen. */
  functionErrors: number;
  /** Throttles and system errors so far, counting the one just seen. */
  systemErrors: number;
  /** When the event was first accepted (epoch ms). */
  enqueuedAt: number;
  now: number;
  maxRetries: number;
  maxEventAgeSeconds: number;
  /** Multiplies every delay (1 in production; small in tests). */
  timeScale?: number;
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number; dueAt: number }
  | { action: 'dead-letter'; condition: DeadLetterCondition; reason: 'retries-exhausted' | 'event-too-old' | 'not-found' };

/** Delay before the retry that follows the n-th function error (n ≥ 1). */
export function functionErrorDelayMs(n: number): number {
  const i = Math.max(0, n - 1);
  return FUNCTION_ERROR_DELAYS_MS[Math.min(i, FUNCTION_ERROR_DELAYS_MS.length - 1)] ?? 120_000;
}

/** Delay before the retry that follows the n-th throttle or system error (n ≥ 1). */
export function systemBackoffMs(n: number): number {
  const exp = Math.min(Math.max(0, n - 1), 30);
  return Math.min(SYSTEM_BACKOFF_MIN_MS * 2 ** exp, SYSTEM_BACKOFF_MAX_MS);
}

export function isTooOld(enqueuedAt: number, now: number, maxEventAgeSeconds: number): boolean {
  return now - enqueuedAt > maxEventAgeSeconds * 1000;
}

export function nextStep(input: RetryInput): RetryDecision {
  const scale = input.timeScale ?? 1;
  if (input.kind === 'not-found') return { action: 'dead-letter', condition: 'RetriesExhausted', reason: 'not-found' };
  if (input.kind === 'function' && input.functionErrors > input.maxRetries) {
    return { action: 'dead-letter', condition: 'RetriesExhausted', reason: 'retries-exhausted' };
  }
  const base = input.kind === 'function' ? functionErrorDelayMs(input.functionErrors) : systemBackoffMs(input.systemErrors);
  const delayMs = Math.max(0, Math.round(base * scale));
  const dueAt = input.now + delayMs;
  if (isTooOld(input.enqueuedAt, dueAt, input.maxEventAgeSeconds)) {
    return { action: 'dead-letter', condition: 'EventAgeExceeded', reason: 'event-too-old' };
  }
  return { action: 'retry', delayMs, dueAt };
}
