// When the process node runs a startup or liveness probe: on the ticks of a
// worker made when the pod was added, as the kubelet's prober does, so a new
// container's first probe waits for the next tick rather than running the
// moment it starts (which would make cold starts look faster than on a real
// kubelet).
import { describe, expect, it } from 'vitest';
import { nextProbeTick } from './probes.js';

describe('nextProbeTick', () => {
  const rows: [string, number, number, number, number][] = [
    // what, epoch (pod added), period, not before, tick
    ['a container started 300 ms after the pod was added: the tick at 1 s', 0, 1000, 300, 1000],
    ['started on a tick: that tick', 0, 1000, 2000, 2000],
    ['just after a tick: the next one', 0, 1000, 2001, 3000],
    ['period 5 s, epoch 10 s in', 10_000, 5000, 12_500, 15_000],
    ['initialDelay pushes it past the first tick', 0, 1000, 300 + 2000, 3000],
    ['before the epoch: the epoch', 1000, 1000, 500, 1000],
  ];
  it.each(rows)('%s', (_what, epoch, period, notBefore, want) => {
    expect(nextProbeTick(epoch, period, notBefore)).toBe(want);
  });
});
