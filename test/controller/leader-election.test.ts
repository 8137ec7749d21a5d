import { describe, expect, it } from 'vitest';
import { microTime, nextLease } from '../../src/controller/leader-election.js';

describe('nextLease', () => {
  const now = 1_000_000;
  it.each([
    ['takes a lease no one holds', undefined, 0, true, 0],
    ['takes a released lease (empty holder)', { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }, now, true, 3],
    ['keeps its own lease', { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: 'then', leaseTransitions: 2 }, now, true, 2],
    ['leaves another holder\'s live lease', { holderIdentity: 'other', leaseDurationSeconds: 15 }, now - 14_000, false, 0],
    ['takes over a lease unrenewed for its duration', { holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 1 }, now - 15_000, true, 2],
  ])('%s', (_what, current, observedAt, takes, transitions) => {
    const next = nextLease(current, 'me', now, 15_000, observedAt);
    if (!takes) {
      expect(next).toBeUndefined();
      return;
    }
    expect(next).toMatchObject({ holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: microTime(now), leaseTransitions: transitions });
  });

  it('keeps the acquire time while renewing', () => {
    expect(nextLease({ holderIdentity: 'me', acquireTime: 'T0', leaseDurationSeconds: 15 }, 'me', now, 15_000, now)?.acquireTime).toBe('T0');
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
