import { describe, expect, it } from 'vitest';
import { answerWaitMs } from './client.js';

describe('answerWaitMs', () => {
  it.each([
    // timeoutMs, slots, initTimeoutMs, slackMs, expected
    [3000, 1, 10_000, 5000, 18_000],
    // A runtime taking one call at a time serves the three ahead first.
    [3000, 4, 10_000, 5000, 27_000],
    // Slots below one count as one.
    [1000, 0, 10_000, 0, 11_000],
  ])('timeout %i ms, %i slots, init %i ms, slack %i ms → %i ms', (timeoutMs, slots, initMs, slackMs, expected) => {
    expect(answerWaitMs(timeoutMs, slots, initMs, slackMs)).toBe(expected);
  });
});
