// The kubelet's termination decisions (termination.ts) as tables: the grace
// a kill gets, what a hook or a wait takes off it, the 2 s floor before
// SIGKILL, the order native sidecars stop in, and the cut-off a shorter grace
// brings forward.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cutoff, graceLeft, killGraceSeconds, sigtermGrace, terminationPrereqs, within } from './termination.js';

const c = (name: string, extra: Partial<V1Container> = {}): V1Container => ({ name, ...extra });
const sidecar = (name: string): V1Container => ({ name, restartPolicy: 'Always' });

describe('killGraceSeconds (setTerminationGracePeriod)', () => {
  const liveness = c('app', { livenessProbe: { exec: { command: ['x'] }, terminationGracePeriodSeconds: 5 } });
  const rows: [string, V1Pod, V1Container, 'deletion' | 'liveness' | 'startup', number][] = [
    ['deletion grace wins', { metadata: { deletionGracePeriodSeconds: 7 }, spec: { terminationGracePeriodSeconds: 30, containers: [] } }, liveness, 'liveness', 7],
    ['the pod grace on deletion', { spec: { terminationGracePeriodSeconds: 30, containers: [] } }, liveness, 'deletion', 30],
    ['a failed liveness probe: its own grace', { spec: { terminationGracePeriodSeconds: 30, containers: [] } }, liveness, 'liveness', 5],
    ['a failed startup probe without its own grace: the pod grace', { spec: { terminationGracePeriodSeconds: 30, containers: [] } }, liveness, 'startup', 30],
    ['no grace anywhere: the 2 s minimum', { spec: { containers: [] } }, c('app'), 'deletion', 2],
    ['deletion grace 0 (force)', { metadata: { deletionGracePeriodSeconds: 0 }, spec: { terminationGracePeriodSeconds: 30, containers: [] } }, c('app'), 'deletion', 0],
  ];
  it.each(rows)('%s', (_what, pod, container, reason, want) => {
    expect(killGraceSeconds(pod, container, reason)).toBe(want);
  });
});

describe('graceLeft and sigtermGrace', () => {
  const rows: [number, number, number, number][] = [
    // grace, elapsed ms, left (whole seconds truncated), SIGTERM grace (at least 2)
    [30, 0, 30, 30],
    [30, 999, 30, 30],
    [30, 1_000, 29, 29],
    [30, 12_700, 18, 18],
    [3, 3_000, 0, 2],
    [3, 5_500, -2, 2],
    [10, 8_999, 2, 2],
    [10, 7_999, 3, 3],
  ];
  it.each(rows)('grace %d s after %d ms: %d left, SIGTERM with %d', (grace, elapsed, left, term) => {
    expect(graceLeft(grace, elapsed)).toBe(left);
    expect(sigtermGrace(graceLeft(grace, elapsed))).toBe(term);
  });
});

describe('terminationPrereqs (newTerminationOrdering)', () => {
  const rows: [string, { containers: V1Container[]; initContainers?: V1Container[] }, string[], Record<string, string[]>][] = [
    ['no sidecars: nobody waits', { containers: [c('a'), c('b')], initContainers: [c('init')] }, ['a', 'b'], {}],
    ['one sidecar waits for every running app container', { containers: [c('a'), c('b')], initContainers: [sidecar('s')] }, ['a', 'b', 's'], { s: ['a', 'b'] }],
    ['an app container that is not running is not waited for', { containers: [c('a'), c('b')], initContainers: [sidecar('s')] }, ['a', 's'], { s: ['a'] }],
    [
      'sidecars stop in reverse order: each waits for the one declared after it',
      { containers: [c('app')], initContainers: [sidecar('s1'), c('init'), sidecar('s2'), sidecar('s3')] },
      ['app', 's1', 's2', 's3'],
      { s3: ['app'], s2: ['app', 's3'], s1: ['app', 's2'] },
    ],
    [
      'the chain is by declaration: a sidecar after one that is not running waits for nothing more',
      { containers: [c('app')], initContainers: [sidecar('s1'), sidecar('s2'), sidecar('s3')] },
      ['app', 's1', 's3'],
      { s3: ['app'], s1: ['app'] },
    ],
    ['a sidecar that is not running waits for nothing', { containers: [c('app')], initContainers: [sidecar('s')] }, ['app'], {}],
  ];
  it.each(rows)('%s', (_what, spec, running, want) => {
    expect(Object.fromEntries(terminationPrereqs(spec, new Set(running)))).toEqual(want);
  });
});

describe('Cutoff', () => {
  afterEach(() => vi.useRealTimers());

  it('is never reached until brought forward, then only earlier; watchers see each move', async () => {
    vi.useFakeTimers();
    const cut = new Cutoff();
    const moves: number[] = [];
    cut.watch((at) => moves.push(at));
    let reached = false;
    void cut.reached().then(() => (reached = true));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reached).toBe(false);
    const t0 = Date.now();
    cut.bringForward(t0 + 5_000);
    cut.bringForward(t0 + 9_000);
    expect(cut.at).toBe(t0 + 5_000);
    cut.bringForward(t0 + 2_000);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(reached).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(reached).toBe(true);
    expect(moves).toEqual([t0 + 5_000, t0 + 2_000]);
    expect(cut.passed).toBe(true);
  });

  it('within: ends at the promise, the time limit or the cut-off, whichever is first, and never rejects', async () => {
    vi.useFakeTimers();
    const cut = new Cutoff();
    const never = new Promise<void>(() => undefined);
    let done = false;
    void within(never, 10_000, cut).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(3_000);
    expect(done).toBe(false);
    cut.bringForward(Date.now() + 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(done).toBe(true);
    await expect(within(Promise.reject(new Error('hook failed')), 1_000, new Cutoff())).resolves.toBeUndefined();
  });
});
