// A unit's instances from its slices and from what agents told the gateway
// directly: the agent's word bridges the time until the slice says the
// same; the pod informer's news of a deletion wins over both.
import { describe, expect, it } from 'vitest';
import type { EndpointRecord } from '../../../src/backends/kubernetes/endpoints.js';
import { mergeRecords, sliceTookOver, type DirectRecord, type PodFact } from '../../../src/backends/kubernetes/instance-records.js';

const slice = (pod: string, state: EndpointRecord['state']): EndpointRecord => ({ id: pod, address: `10.0.0.${pod.length}`, pod, state });
const direct = (pod: string): DirectRecord => ({ pod, address: `10.0.0.${pod.length}` });

describe('mergeRecords', () => {
  it.each<{ name: string; slices: EndpointRecord[]; direct: DirectRecord[]; facts?: Record<string, PodFact>; want: [string, EndpointRecord['state']][] }>([
    { name: 'slices alone, as they say', slices: [slice('a', 'ready'), slice('b', 'starting')], direct: [], want: [['a', 'ready'], ['b', 'starting']] },
    { name: 'learned ready, not in any slice yet: ready', slices: [], direct: [direct('a')], want: [['a', 'ready']] },
    { name: 'learned ready, the slice still says starting: ready', slices: [slice('a', 'starting')], direct: [direct('a')], want: [['a', 'ready']] },
    { name: 'learned ready, the slice says draining: draining', slices: [slice('a', 'draining')], direct: [direct('a')], want: [['a', 'draining']] },
    { name: 'the pod is terminating: draining, though the slice says ready', slices: [slice('a', 'ready')], direct: [], facts: { a: 'terminating' }, want: [['a', 'draining']] },
    { name: 'the pod is terminating: draining, though its agent said ready', slices: [], direct: [direct('a')], facts: { a: 'terminating' }, want: [['a', 'draining']] },
    { name: 'the pod is gone: dropped, though the slice still lists it', slices: [slice('a', 'ready'), slice('b', 'ready')], direct: [], facts: { a: 'gone' }, want: [['b', 'ready']] },
    { name: 'the pod is gone: dropped, though its agent said ready', slices: [], direct: [direct('a')], facts: { a: 'gone' }, want: [] },
    { name: "a claimed pod still specialising: starting, though its slice says ready (the idle pod's Ready)", slices: [slice('a', 'ready')], direct: [], facts: { a: 'specializing' }, want: [['a', 'starting']] },
    { name: 'a claimed pod specialising whose agent said ready: ready', slices: [slice('a', 'ready')], direct: [direct('a')], facts: { a: 'specializing' }, want: [['a', 'ready']] },
    { name: 'a pod the informer does not know yet: as the slice says', slices: [slice('a', 'starting')], direct: [], facts: { a: 'unknown' }, want: [['a', 'starting']] },
    { name: 'one record per pod, sorted by id', slices: [slice('c', 'ready'), slice('a', 'starting')], direct: [direct('b'), direct('a')], want: [['a', 'ready'], ['b', 'ready'], ['c', 'ready']] },
  ])('$name', ({ slices, direct: d, facts, want }) => {
    const got = mergeRecords(slices, d, (pod) => facts?.[pod] ?? 'present');
    expect(got.map((r) => [r.id, r.state])).toEqual(want);
    for (const r of got) expect(r.pod).toBe(r.id);
  });

  it('keeps the slice record of a pod it lists (address from the slice)', () => {
    const got = mergeRecords([{ id: 'p', pod: 'p', address: '10.9.9.9', state: 'starting' }], [{ pod: 'p', address: '10.9.9.9' }], () => 'present');
    expect(got).toEqual([{ id: 'p', pod: 'p', address: '10.9.9.9', state: 'ready' }]);
  });
});

describe('sliceTookOver', () => {
  const learnedAt = Date.parse('2026-12-06T10:00:05.400Z');
  it.each<{ name: string; state: EndpointRecord['state']; readySince: string | undefined; took: boolean }>([
    { name: 'ready, and Ready since after the agent said so', state: 'ready', readySince: '2026-12-06T10:00:06Z', took: true },
    { name: 'ready within the same (truncated) second', state: 'ready', readySince: '2026-12-06T10:00:05Z', took: true },
    { name: "a stale ready: the pool pod was Ready while idle, long before", state: 'ready', readySince: '2026-12-06T09:58:00Z', took: false },
    { name: 'the pod is not Ready (condition false or unknown)', state: 'ready', readySince: undefined, took: false },
    { name: 'the slice says starting', state: 'starting', readySince: '2026-12-06T10:00:06Z', took: false },
    { name: 'the slice says draining', state: 'draining', readySince: '2026-12-06T10:00:06Z', took: false },
  ])('$name', ({ state, readySince, took }) => {
    expect(sliceTookOver(state, readySince === undefined ? undefined : Date.parse(readySince), learnedAt)).toBe(took);
  });
});
