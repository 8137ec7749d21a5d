import { describe, expect, it } from 'vitest';
import type { EventSourceMappingStatus } from '../../src/api/event-source-mapping.js';
import { mappingStatus, mergeResults, readiness, writeDecision, type MappingObservation } from '../../src/sources/mapping-status-writer.js';

const uuid = '0b0c4a3e-1111-5222-8333-444455556666';
const t0 = new Date('2026-12-06T21:00:00.000Z');
const t1 = new Date('2026-12-06T21:00:07.000Z');
const running = (over: Partial<Extract<MappingObservation, { kind: 'running' }>> = {}): MappingObservation => ({
  kind: 'running',
  uuid,
  state: 'Enabled',
  lastProcessingResult: 'OK',
  lag: [],
  ...over,
});

describe('readiness', () => {
  it.each<[string, MappingObservation, { status: string; reason: string }]>([
    ['enabled and processing', running(), { status: 'True', reason: 'Polling' }],
    ['enabled, nothing read yet', running({ lastProcessingResult: 'No records processed' }), { status: 'True', reason: 'Polling' }],
    ['a problem reaching the source', running({ lastProcessingResult: 'PROBLEM: Connection error: broker down' }), { status: 'False', reason: 'Problem' }],
    ['a missing function', running({ lastProcessingResult: 'PROBLEM: Function not found: nope' }), { status: 'False', reason: 'Problem' }],
    ['disabled by spec.enabled', running({ state: 'Disabled', lastProcessingResult: 'No records processed' }), { status: 'False', reason: 'Disabled' }],
    ['disabled by a config problem (the problem wins)', running({ state: 'Disabled', lastProcessingResult: 'PROBLEM: filterCriteria: bad' }), { status: 'False', reason: 'Problem' }],
    ['a transitional state', running({ state: 'Creating' }), { status: 'Unknown', reason: 'Creating' }],
    ['a spec the schema refuses', { kind: 'invalid', uuid, problems: 'spec.batchSize: too big' }, { status: 'False', reason: 'InvalidSpec' }],
  ])('%s', (_name, o, want) => {
    expect(readiness(o)).toMatchObject(want);
  });
});

describe('mappingStatus', () => {
  it('says state, result, lag per partition in partition order (numeric), their sum, uuid, generation and Ready', () => {
    const s = mappingStatus({
      observation: running({ lag: [{ partition: 'orders-10', lag: 1 }, { partition: 'orders-2', lag: 4 }, { partition: 'orders-0', lag: 0 }] }),
      current: undefined,
      generation: 3,
      now: t0,
    });
    expect(s).toEqual({
      conditions: [{ type: 'Ready', status: 'True', reason: 'Polling', message: 'OK', lastTransitionTime: t0.toISOString(), observedGeneration: 3 }],
      observedGeneration: 3,
      uuid,
      state: 'Enabled',
      lastProcessingResult: 'OK',
      lastModified: t0.toISOString(),
      lag: [{ partition: 'orders-0', lag: 0 }, { partition: 'orders-2', lag: 4 }, { partition: 'orders-10', lag: 1 }],
      totalLag: 5,
    });
  });

  it('keeps lastModified while the generation stays, and takes the time of a new one', () => {
    const first = mappingStatus({ observation: running(), current: undefined, generation: 1, now: t0 });
    expect(mappingStatus({ observation: running(), current: first, generation: 1, now: t1 }).lastModified).toBe(t0.toISOString());
    expect(mappingStatus({ observation: running(), current: first, generation: 2, now: t1 }).lastModified).toBe(t1.toISOString());
  });

  it('keeps the Ready condition\'s lastTransitionTime while its status stays, and moves it when the status flips', () => {
    const first = mappingStatus({ observation: running(), current: undefined, generation: 1, now: t0 });
    const same = mappingStatus({ observation: running({ lastProcessingResult: 'No records processed' }), current: first, generation: 1, now: t1 });
    expect(same.conditions?.[0]?.lastTransitionTime).toBe(t0.toISOString());
    const flipped = mappingStatus({ observation: running({ lastProcessingResult: 'PROBLEM: x' }), current: first, generation: 1, now: t1 });
    expect(flipped.conditions?.[0]).toMatchObject({ status: 'False', lastTransitionTime: t1.toISOString() });
  });

  it('shows a refused spec as Disabled with a PROBLEM result and no lag', () => {
    const s = mappingStatus({ observation: { kind: 'invalid', uuid, problems: 'spec.kafka: x' }, current: undefined, generation: 1, now: t0 });
    expect(s).toMatchObject({ state: 'Disabled', lastProcessingResult: 'PROBLEM: invalid spec: spec.kafka: x', lag: [], totalLag: 0 });
  });
});

describe('writeDecision', () => {
  const base = mappingStatus({ observation: running({ lag: [{ partition: 's', lag: 3 }] }), current: undefined, generation: 1, now: t0 });
  const lagged = (n: number): EventSourceMappingStatus => mappingStatus({ observation: running({ lag: [{ partition: 's', lag: n }] }), current: base, generation: 1, now: t1 });
  const opts = (lastWriteAtMs: number | undefined, nowMs: number) => ({ lastWriteAtMs, nowMs, minIntervalMs: 5_000 });

  it.each<[string, EventSourceMappingStatus | undefined, EventSourceMappingStatus, ReturnType<typeof opts>, string]>([
    ['no status yet', undefined, base, opts(undefined, 0), 'now'],
    ['the same status', base, lagged(3), opts(0, 1), 'none'],
    ['the same status as the API server returns it (keys reordered)', JSON.parse(JSON.stringify({ totalLag: 3, ...base })) as EventSourceMappingStatus, lagged(3), opts(0, 1), 'none'],
    ['lag only, within the minimum interval', base, lagged(7), opts(10_000, 12_000), 'later'],
    ['lag only, past the minimum interval', base, lagged(7), opts(10_000, 15_000), 'now'],
    ['lag only, never written by this gateway', base, lagged(7), opts(undefined, 12_000), 'now'],
    ['a new result, within the minimum interval', base, mappingStatus({ observation: running({ lastProcessingResult: 'PROBLEM: y', lag: [{ partition: 's', lag: 3 }] }), current: base, generation: 1, now: t1 }), opts(10_000, 10_001), 'now'],
    ['a new generation observed', base, mappingStatus({ observation: running({ lag: [{ partition: 's', lag: 3 }] }), current: base, generation: 2, now: t1 }), opts(10_000, 10_001), 'now'],
    ['disabled', base, mappingStatus({ observation: running({ state: 'Disabled', lag: [{ partition: 's', lag: 3 }] }), current: base, generation: 1, now: t1 }), opts(10_000, 10_001), 'now'],
  ])('%s', (_name, current, desired, o, want) => {
    expect(writeDecision(current, desired, o)).toBe(want);
  });
});

describe('mergeResults', () => {
  const now = 100_000;
  it.each<[string, string, Array<{ result: string; atMs: number }>, string]>([
    ['alone', 'OK', [], 'OK'],
    ['the leader read nothing, another gateway processed records', 'No records processed', [{ result: 'OK', atMs: now - 1_000 }], 'OK'],
    ['another gateway cannot reach the broker', 'OK', [{ result: 'PROBLEM: Connection error', atMs: now - 1_000 }], 'PROBLEM: Connection error'],
    ['the leader\'s own problem wins over others\' OK', 'PROBLEM: Function call failed: Unhandled', [{ result: 'OK', atMs: now }], 'PROBLEM: Function call failed: Unhandled'],
    ['two problems: the leader\'s first, then the latest', 'OK', [{ result: 'PROBLEM: old', atMs: now - 5_000 }, { result: 'PROBLEM: new', atMs: now - 1_000 }], 'PROBLEM: new'],
    ['a gateway that left (stale report) no longer counts', 'OK', [{ result: 'PROBLEM: Connection error', atMs: now - 60_000 }], 'OK'],
    ['nobody processed anything', 'No records processed', [{ result: 'No records processed', atMs: now }], 'No records processed'],
  ])('%s', (_name, own, others, want) => {
    expect(mergeResults(own, others, now, 15_000)).toBe(want);
  });
});
