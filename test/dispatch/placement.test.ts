import { describe, expect, it } from 'vitest';
import { liveCount, neededInstances, pickInstance, type Candidate } from '../../src/dispatch/placement.js';

const c = (id: string, state: Candidate['state'], readyAt = 0, concurrency = 1): Candidate => ({ id, state, concurrency, readyAt });

describe('pickInstance', () => {
  it('takes the ready instance with the fewest in flight', () => {
    const cands = [c('a', 'ready', 1, 4), c('b', 'ready', 2, 4)];
    expect(pickInstance(cands, new Map([['a', 2], ['b', 1]]))).toBe('b');
  });
  it('breaks ties toward the oldest instance, so new ones can go idle', () => {
    expect(pickInstance([c('new', 'ready', 50), c('old', 'ready', 10)], new Map())).toBe('old');
  });
  it('never exceeds an instance\'s concurrency', () => {
    expect(pickInstance([c('a', 'ready')], new Map([['a', 1]]))).toBeUndefined();
  });
  it('skips instances that are starting, draining or failed', () => {
    expect(pickInstance([c('s', 'starting'), c('d', 'draining'), c('f', 'failed')], new Map())).toBeUndefined();
  });
});

describe('neededInstances', () => {
  it.each([
    { demand: 0, concurrency: 1, maxInstances: 5, expected: 0 },
    { demand: 1, concurrency: 1, maxInstances: 5, expected: 1 },
    { demand: 50, concurrency: 1, maxInstances: 5, expected: 5 },
    { demand: 7, concurrency: 3, maxInstances: 10, expected: 3 },
    { demand: 50, concurrency: 1, maxInstances: 10, reservedConcurrency: 4, expected: 4 },
    { demand: 50, concurrency: 4, maxInstances: 10, reservedConcurrency: 10, expected: 3 },
  ])('$demand in demand at concurrency $concurrency needs $expected', ({ expected, ...opts }) => {
    expect(neededInstances(opts)).toBe(expected);
  });
  it('counts starting and ready instances as live', () => {
    expect(liveCount([c('a', 'starting'), c('b', 'ready'), c('d', 'draining'), c('f', 'failed')])).toBe(2);
  });
});
