// The Kubernetes backend's own choices about pods that leave: which ones a
// scale-down removes (pure), and how an instance this gateway holds back
// (a victim, or one whose agent refused a call) reports and stops being held.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InvokeRequest, InvokeResult } from '../../src/agent/invocation.js';
import { KubernetesInstance, type HoldKind } from '../../src/backends/kubernetes/instance.js';
import { chooseVictims, type VictimCandidate } from '../../src/backends/kubernetes/victims.js';

const v = (id: string, inFlight: number, readyAt?: number, state: VictimCandidate['state'] = 'ready'): VictimCandidate => ({ id, state, inFlight, readyAt });

describe('chooseVictims', () => {
  it.each([
    { name: 'nothing to remove at or above the count', cands: [v('a', 0, 1), v('b', 0, 2)], desired: 2, expected: [] },
    { name: 'more desired than exist', cands: [v('a', 0, 1)], desired: 3, expected: [] },
    { name: 'the idle one before a busy one', cands: [v('busy', 2, 1), v('idle', 0, 2)], desired: 1, expected: ['idle'] },
    { name: 'the idle one even when it is the oldest', cands: [v('old-idle', 0, 1), v('new-busy', 1, 9)], desired: 1, expected: ['old-idle'] },
    { name: 'the fewest in flight first', cands: [v('a', 3, 1), v('b', 1, 2), v('c', 2, 3)], desired: 1, expected: ['b', 'c'] },
    { name: 'the newest among equally idle', cands: [v('old', 0, 10), v('new', 0, 30), v('mid', 0, 20)], desired: 1, expected: ['new', 'mid'] },
    { name: 'one not ready yet before any ready one', cands: [v('idle', 0, 5), v('starting', 0, undefined, 'starting')], desired: 1, expected: ['starting'] },
    { name: 'all of them to zero', cands: [v('a', 1, 1), v('b', 0, 2)], desired: 0, expected: ['b', 'a'] },
    { name: 'a negative count as zero', cands: [v('a', 0, 1)], desired: -2, expected: ['a'] },
    { name: 'by id when nothing else differs', cands: [v('b', 0, 1), v('a', 0, 1)], desired: 1, expected: ['a'] },
  ])('$name', ({ cands, desired, expected }) => {
    expect(chooseVictims(cands, desired)).toEqual(expected);
  });
});

function instance(opts: { holdMs?: number; onHoldChange?: (i: KubernetesInstance, c: { kind: HoldKind; held: boolean }) => void; invoke?: (req: InvokeRequest) => Promise<InvokeResult> } = {}): KubernetesInstance {
  return new KubernetesInstance({
    id: 'pod-a',
    functionName: 'fn',
    address: '10.0.0.1',
    pod: 'pod-a',
    concurrency: 2,
    state: 'ready',
    makeClient: () => ({ invoke: opts.invoke ?? (async () => ({ outcome: 'success', payload: Buffer.from('{}'), durationMs: 1 })), close: async () => undefined }),
    port: 9000,
    now: 0,
    ...(opts.holdMs !== undefined ? { holdMs: opts.holdMs } : {}),
    ...(opts.onHoldChange ? { onHoldChange: opts.onHoldChange } : {}),
  });
}

describe('KubernetesInstance holds', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports draining while held as a victim, whatever its endpoint says, until released', () => {
    const i = instance();
    expect(i.hold('victim')).toBe(true);
    expect(i.state).toBe('draining');
    expect(i.held).toBe('victim');
    // Endpoint news does not end a victim's hold.
    expect(i.setState('starting', 1)).toBe(false);
    expect(i.setState('ready', 2)).toBe(false);
    expect(i.state).toBe('draining');
    expect(i.release()).toBe(true);
    expect(i.state).toBe('ready');
  });

  it('marks itself draining when its agent refused a call, until its endpoint says something new', () => {
    const changes: { kind: HoldKind; held: boolean }[] = [];
    const i = instance({ onHoldChange: (_, c) => changes.push(c) });
    i.markDraining();
    i.markDraining();
    expect(i.state).toBe('draining');
    expect(changes).toEqual([{ kind: 'refused', held: true }]);
    // The agent restarted: its endpoint went unready, then ready again.
    expect(i.setState('starting', 1)).toBe(true);
    expect(i.state).toBe('starting');
    expect(i.setState('ready', 2)).toBe(true);
    expect(i.state).toBe('ready');
  });

  it('drops a hold by itself after holdMs, and says so', () => {
    vi.useFakeTimers();
    const changes: { kind: HoldKind; held: boolean }[] = [];
    const i = instance({ holdMs: 1000, onHoldChange: (_, c) => changes.push(c) });
    i.hold('victim');
    vi.advanceTimersByTime(999);
    expect(i.state).toBe('draining');
    vi.advanceTimersByTime(1);
    expect(i.state).toBe('ready');
    expect(changes).toEqual([{ kind: 'victim', held: false }]);
  });

  it('stays draining when its endpoint turns terminating, and a victim hold is not taken twice', () => {
    const i = instance();
    expect(i.hold('victim')).toBe(true);
    expect(i.hold('refused')).toBe(false);
    i.setState('draining', 1);
    expect(i.state).toBe('draining');
    expect(i.endpointState).toBe('draining');
  });

  it('counts the calls this gateway has in flight on it', async () => {
    let release: (() => void) | undefined;
    const i = instance({ invoke: () => new Promise((resolve) => (release = () => resolve({ outcome: 'success', payload: Buffer.from('{}'), durationMs: 1 }))) });
    const call = i.invoke({ requestId: 'r', payload: Buffer.from('{}'), timeoutMs: 1000, invokedFunctionArn: 'arn' });
    expect(i.inFlight).toBe(1);
    release?.();
    await call;
    expect(i.inFlight).toBe(0);
  });
});
