import { describe, expect, it } from 'vitest';
import { EventSourceMappingSpecSchema } from '../../src/api/event-source-mapping.js';
import type { InvokeResult } from '../../src/agent/invocation.js';
import {
  batchPolicy,
  decide,
  readItemFailures,
  recordAgeExceeded,
  retryDelayMs,
  type BatchDecision,
  type BatchPolicy,
  type BatchResult,
} from '../../src/sources/batch-plan.js';
import type { KafkaRecord, RedisStreamRecord, SourceRecord } from '../../src/sources/records.js';

const T0 = Date.UTC(2026, 0, 1);

function kafka(offset: number, timestampMs = T0): KafkaRecord {
  return { source: 'kafka', topic: 'orders', partition: 2, offset: String(offset), timestampMs, timestampType: 'CREATE_TIME', key: null, value: Buffer.from(`v${offset}`), headers: [] };
}
function redis(ms: number, seq = 0): RedisStreamRecord {
  return { source: 'redis-streams', stream: 'events', id: `${ms}-${seq}`, fields: [['n', String(seq)]] };
}
const batch = (from: number, n: number): KafkaRecord[] => Array.from({ length: n }, (_, i) => kafka(from + i));

const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({ batchSize: 100, reportBatchItemFailures: false, bisectOnError: false, maximumRetryAttempts: -1, maximumRecordAgeMs: -1, ...p });
const invoked = (outcome: InvokeResult['outcome'], body: string): BatchResult => ({ kind: 'invoked', result: { outcome, payload: Buffer.from(body), durationMs: 1 } });
const ok = (body = 'null') => invoked('success', body);
const handled = invoked('handled', '{"errorMessage":"boom","errorType":"ValueError"}');
const unhandled = invoked('unhandled', '{"errorMessage":"timed out","errorType":"Sandbox.Timedout"}');
const platform: BatchResult = { kind: 'platform', error: 'throttled' };
const failures = (...ids: unknown[]) => ok(JSON.stringify({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) }));

/** A decision with records replaced by their positions, for compact tables. */
function summary(d: BatchDecision): unknown {
  const pos = (rs: readonly SourceRecord[]) => rs.map((r) => (r.source === 'kafka' ? r.offset : r.id));
  switch (d.kind) {
    case 'done':
      return { kind: 'done' };
    case 'retry':
      return { kind: 'retry', records: pos(d.records), attempt: d.attempt, ...(d.commitThrough !== undefined ? { commitThrough: d.commitThrough } : {}) };
    case 'split':
      return { kind: 'split', first: pos(d.first), second: pos(d.second), attempts: d.attempts };
    case 'fail':
      return { kind: 'fail', records: pos(d.records), condition: d.condition, rest: pos(d.rest) };
  }
}

describe('decide', () => {
  const four = batch(10, 4);
  const cases: Array<{ name: string; policy: BatchPolicy; records?: SourceRecord[]; attempts?: number; result: BatchResult; now?: number; want: unknown }> = [
    { name: 'success: done', policy: policy(), result: ok('"fine"'), want: { kind: 'done' } },
    { name: 'success without ReportBatchItemFailures ignores a failure list', policy: policy(), result: failures('11'), want: { kind: 'done' } },
    { name: 'handled error: retry, first retry', policy: policy(), result: handled, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'unhandled error: retry counts on', policy: policy(), attempts: 4, result: unhandled, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 5 } },
    { name: 'retries -1: never exhausted', policy: policy({ maximumRetryAttempts: -1 }), attempts: 9999, result: handled, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 10000 } },
    { name: 'maximumRetryAttempts 0: fails after the first error', policy: policy({ maximumRetryAttempts: 0 }), result: handled, want: { kind: 'fail', records: ['10', '11', '12', '13'], condition: 'RetryAttemptsExhausted', rest: [] } },
    { name: 'maximumRetryAttempts 2: second retry still runs', policy: policy({ maximumRetryAttempts: 2 }), attempts: 1, result: handled, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 2 } },
    { name: 'maximumRetryAttempts 2: third error fails', policy: policy({ maximumRetryAttempts: 2 }), attempts: 2, result: unhandled, want: { kind: 'fail', records: ['10', '11', '12', '13'], condition: 'RetryAttemptsExhausted', rest: [] } },
    { name: 'bisect: halves start with the count before it (a split uses up no retry)', policy: policy({ bisectOnError: true }), result: handled, want: { kind: 'split', first: ['10', '11'], second: ['12', '13'], attempts: 0 } },
    { name: 'bisect: odd batch, first half is larger', policy: policy({ bisectOnError: true }), records: batch(0, 5), attempts: 1, result: handled, want: { kind: 'split', first: ['0', '1', '2'], second: ['3', '4'], attempts: 1 } },
    { name: 'bisect: one record is retried, not split', policy: policy({ bisectOnError: true }), records: [kafka(7)], result: handled, want: { kind: 'retry', records: ['7'], attempt: 1 } },
    { name: 'bisect: splits even with no retries left', policy: policy({ bisectOnError: true, maximumRetryAttempts: 1 }), attempts: 1, result: handled, want: { kind: 'split', first: ['10', '11'], second: ['12', '13'], attempts: 1 } },
    { name: 'bisect: a single record with no retries left fails', policy: policy({ bisectOnError: true, maximumRetryAttempts: 1 }), records: [kafka(7)], attempts: 1, result: handled, want: { kind: 'fail', records: ['7'], condition: 'RetryAttemptsExhausted', rest: [] } },
    { name: 'record age: oldest past the limit fails the batch', policy: policy({ maximumRecordAgeMs: 60_000 }), records: [kafka(1, T0), kafka(2, T0 + 30_000)], result: handled, now: T0 + 60_001, want: { kind: 'fail', records: ['1', '2'], condition: 'RecordAgeExceeded', rest: [] } },
    { name: 'record age: exactly at the limit is still retried', policy: policy({ maximumRecordAgeMs: 60_000 }), records: [kafka(1, T0)], result: handled, now: T0 + 60_000, want: { kind: 'retry', records: ['1'], attempt: 1 } },
    { name: 'record age before retry count', policy: policy({ maximumRecordAgeMs: 60_000, maximumRetryAttempts: 0 }), records: [kafka(1, T0)], result: handled, now: T0 + 120_000, want: { kind: 'fail', records: ['1'], condition: 'RecordAgeExceeded', rest: [] } },
    { name: 'record age of a success does not matter', policy: policy({ maximumRecordAgeMs: 60_000 }), records: [kafka(1, T0)], result: ok(), now: T0 + 120_000, want: { kind: 'done' } },
    { name: 'platform error: retried, no retry used up', policy: policy({ maximumRetryAttempts: 0 }), attempts: 0, result: platform, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 0 } },
    { name: 'platform error keeps the count of function errors', policy: policy({ maximumRetryAttempts: 3 }), attempts: 3, result: platform, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 3 } },
    { name: 'platform error: never bisects', policy: policy({ bisectOnError: true }), result: platform, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 0 } },
    { name: 'platform error: record age still applies', policy: policy({ maximumRecordAgeMs: 60_000 }), records: [kafka(1, T0)], result: platform, now: T0 + 60_001, want: { kind: 'fail', records: ['1'], condition: 'RecordAgeExceeded', rest: [] } },
  ];
  it.each(cases)('$name', ({ policy: p, records = four, attempts = 0, result, now = T0, want }) => {
    expect(summary(decide(p, { records, attempts }, result, now))).toEqual(want);
  });
});

describe('decide with ReportBatchItemFailures', () => {
  const rbif = policy({ reportBatchItemFailures: true });
  const four = batch(10, 4);
  const cases: Array<{ name: string; p?: BatchPolicy; records?: SourceRecord[]; attempts?: number; result: BatchResult; now?: number; want: unknown }> = [
    // Lambda: an empty or null list, an empty or null response: complete success.
    { name: 'null response', result: ok('null'), want: { kind: 'done' } },
    { name: 'empty response', result: ok(''), want: { kind: 'done' } },
    { name: 'empty object', result: ok('{}'), want: { kind: 'done' } },
    { name: 'null list', result: ok('{"batchItemFailures":null}'), want: { kind: 'done' } },
    { name: 'empty list', result: ok('{"batchItemFailures":[]}'), want: { kind: 'done' } },
    // Lambda's Kafka form: {"partition": "TOPIC-N", "offset": N}.
    { name: 'Kafka form: retry from the failed record, commit before it', result: failures({ partition: 'orders-2', offset: 12 }), want: { kind: 'retry', records: ['12', '13'], attempt: 1, commitThrough: '11' } },
    { name: 'Kafka form: several failures, the lowest wins', result: failures({ partition: 'orders-2', offset: 13 }, { partition: 'orders-2', offset: 11 }), want: { kind: 'retry', records: ['11', '12', '13'], attempt: 1, commitThrough: '10' } },
    { name: 'Kafka form: the first record failed: whole batch, nothing to commit', result: failures({ partition: 'orders-2', offset: 10 }), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'Kafka form: offset as a decimal string', result: failures({ partition: 'orders-2', offset: '12' }), want: { kind: 'retry', records: ['12', '13'], attempt: 1, commitThrough: '11' } },
    { name: 'bare offset string (Hearth also accepts it)', result: failures('13'), want: { kind: 'retry', records: ['13'], attempt: 1, commitThrough: '12' } },
    { name: 'bare offset number', result: failures(11), want: { kind: 'retry', records: ['11', '12', '13'], attempt: 1, commitThrough: '10' } },
    { name: 'partial failure counts as a function error', attempts: 2, result: failures('12'), want: { kind: 'retry', records: ['12', '13'], attempt: 3, commitThrough: '11' } },
    { name: 'with bisect on: still retries from the failed record', p: policy({ reportBatchItemFailures: true, bisectOnError: true }), result: failures('12'), want: { kind: 'retry', records: ['12', '13'], attempt: 1, commitThrough: '11' } },
    { name: 'exhausted: the failed record to onFailure, later ones go on', p: policy({ reportBatchItemFailures: true, maximumRetryAttempts: 1 }), attempts: 1, result: failures('12', '13'), want: { kind: 'fail', records: ['12'], condition: 'RetryAttemptsExhausted', rest: ['13'] } },
    { name: 'too old: every record to retry goes to onFailure', p: policy({ reportBatchItemFailures: true, maximumRecordAgeMs: 60_000 }), result: failures('11'), now: T0 + 61_000, want: { kind: 'fail', records: ['11', '12', '13'], condition: 'RecordAgeExceeded', rest: [] } },
    // Lambda: an empty or null itemIdentifier, a bad key name, an identifier not in the batch: complete failure.
    { name: 'identifier not in the batch', result: failures('99'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'Kafka form with another partition', result: failures({ partition: 'orders-3', offset: 12 }), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'Kafka form without partition', result: failures({ offset: 12 }), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'empty identifier', result: failures(''), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'null identifier', result: failures(null), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'one bad identifier fails the whole batch', result: failures('12', '99'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'bad key name', result: ok('{"batchItemFailures":[{"itemIdentifer":"12"}]}'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'list is not a list', result: ok('{"batchItemFailures":"12"}'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'not JSON', result: ok('twelve'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'JSON that is not an object', result: ok('"ok"'), want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    { name: 'invalid answer, bisect on: splits as an error does', p: policy({ reportBatchItemFailures: true, bisectOnError: true }), result: ok('[1]'), want: { kind: 'split', first: ['10', '11'], second: ['12', '13'], attempts: 0 } },
    { name: 'function error still a function error', result: handled, want: { kind: 'retry', records: ['10', '11', '12', '13'], attempt: 1 } },
    // Redis Streams: the entry id.
    { name: 'Redis entry id', records: [redis(T0, 0), redis(T0, 1), redis(T0 + 5, 0)], result: failures(`${T0}-1`), want: { kind: 'retry', records: [`${T0}-1`, `${T0 + 5}-0`], attempt: 1, commitThrough: `${T0}-0` } },
    { name: 'Redis: a number is no entry id', records: [redis(T0, 0), redis(T0, 1)], result: failures(T0), want: { kind: 'retry', records: [`${T0}-0`, `${T0}-1`], attempt: 1 } },
  ];
  it.each(cases)('$name', ({ p = rbif, records = four, attempts = 0, result, now = T0, want }) => {
    expect(summary(decide(p, { records, attempts }, result, now))).toEqual(want);
  });

  it('says why an answer is invalid', () => {
    expect(readItemFailures(Buffer.from('{"batchItemFailures":[{"itemIdentifier":"99"}]}'), four)).toEqual({ kind: 'invalid', reason: 'itemIdentifier "99" names no record of the batch' });
    expect(readItemFailures(Buffer.from('nope'), four)).toEqual({ kind: 'invalid', reason: 'the response is not JSON' });
  });

  it('matches offsets beyond 2^53 exactly when given as strings', () => {
    const big = { ...kafka(0), offset: '9007199254740993' };
    expect(readItemFailures(Buffer.from(JSON.stringify({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-2', offset: '9007199254740993' } }] })), [big])).toEqual({ kind: 'failed', index: 0 });
    expect(readItemFailures(Buffer.from(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '9007199254740992' }] })), [big]).kind).toBe('invalid');
  });
});

describe('a poison record, driven to the end', () => {
  // Runs the decisions as the processor does, over a batch with one record that always fails.
  function run(p: BatchPolicy, records: KafkaRecord[], poison: string): { invocations: number; failed: string[][]; done: string[] } {
    const queue: Array<{ records: readonly SourceRecord[]; attempts: number }> = [{ records, attempts: 0 }];
    const failed: string[][] = [];
    const done: string[] = [];
    let invocations = 0;
    while (queue.length > 0 && invocations < 1000) {
      const state = queue.shift()!;
      invocations++;
      const bad = state.records.some((r) => r.source === 'kafka' && r.offset === poison);
      const result = bad ? (p.reportBatchItemFailures ? failures(poison) : handled) : ok();
      const d = decide(p, state, result, T0);
      const offsets = (rs: readonly SourceRecord[]) => rs.map((r) => (r.source === 'kafka' ? r.offset : r.id));
      if (d.kind === 'done') done.push(...offsets(state.records));
      if (d.kind === 'retry') {
        if (d.commitThrough !== undefined) done.push(...offsets(state.records.slice(0, state.records.length - d.records.length)));
        queue.unshift({ records: d.records, attempts: d.attempt });
      }
      if (d.kind === 'split') queue.unshift({ records: d.first, attempts: d.attempts }, { records: d.second, attempts: d.attempts });
      if (d.kind === 'fail') {
        const firstFailed = state.records.indexOf(d.records[0]!);
        done.push(...offsets(state.records.slice(0, firstFailed)));
        failed.push(offsets(d.records));
        if (d.rest.length > 0) queue.unshift({ records: d.rest, attempts: 0 });
      }
    }
    return { invocations, failed, done };
  }

  it('without bisect: the whole batch goes to onFailure after its retries', () => {
    expect(run(policy({ maximumRetryAttempts: 2 }), batch(0, 8), '5')).toEqual({ invocations: 3, failed: [['0', '1', '2', '3', '4', '5', '6', '7']], done: [] });
  });

  it('with bisect and enough retries: only the poison record goes to onFailure', () => {
    const r = run(policy({ maximumRetryAttempts: 5, bisectOnError: true }), batch(0, 8), '5');
    expect(r.failed).toEqual([['5']]);
    expect(r.done).toEqual(['0', '1', '2', '3', '4', '6', '7']);
  });

  it('with bisect and few retries: halving uses up no retry, so still only the poison record fails', () => {
    // 8 → 4 → 2 → 1 records (3 splits), then the single record's first run and its 1 retry.
    const r = run(policy({ maximumRetryAttempts: 1, bisectOnError: true }), batch(0, 8), '5');
    expect(r.failed).toEqual([['5']]);
    expect(r.done).toEqual(['0', '1', '2', '3', '4', '6', '7']);
    expect(r.invocations).toBe(1 + 2 + 2 + 2 + 1);
  });

  it('with bisect and no retries: the single poison record fails on its first run', () => {
    const r = run(policy({ maximumRetryAttempts: 0, bisectOnError: true }), batch(0, 8), '5');
    expect(r.failed).toEqual([['5']]);
    expect(r.invocations).toBe(1 + 2 + 2 + 2);
  });

  it('with ReportBatchItemFailures: records before it commit, the poison goes to onFailure, the rest go on', () => {
    const r = run(policy({ maximumRetryAttempts: 2, reportBatchItemFailures: true }), batch(0, 8), '5');
    expect(r).toEqual({ invocations: 4, failed: [['5']], done: ['0', '1', '2', '3', '4', '6', '7'] });
  });
});

describe('recordAgeExceeded', () => {
  it.each([
    { name: 'no limit', limit: -1, records: [kafka(0, 0)], now: T0, want: false },
    { name: 'no records', limit: 1000, records: [], now: T0, want: false },
    { name: 'the oldest decides', limit: 1000, records: [kafka(0, T0), kafka(1, T0 - 1001)], now: T0, want: true },
    { name: 'young enough', limit: 1000, records: [kafka(0, T0 - 1000)], now: T0, want: false },
    { name: 'Redis: the time in the entry id', limit: 1000, records: [redis(T0 - 2000)], now: T0, want: true },
  ])('$name', ({ limit, records, now, want }) => {
    expect(recordAgeExceeded({ maximumRecordAgeMs: limit }, records, now)).toBe(want);
  });
});

describe('retryDelayMs', () => {
  it.each([
    [0, 100],
    [1, 100],
    [2, 200],
    [3, 400],
    [7, 6400],
    [8, 10_000],
    [100, 10_000],
    [Number.POSITIVE_INFINITY, 100],
  ])('attempt %d waits %d ms', (attempt, ms) => {
    expect(retryDelayMs(attempt)).toBe(ms);
  });
});

describe('batchPolicy', () => {
  const base = { functionName: 'f', kafka: { bootstrapServers: ['127.0.0.1:9092'], topics: ['t'] } };
  it('reads the spec, with defaults', () => {
    expect(batchPolicy(EventSourceMappingSpecSchema.parse(base))).toEqual({ batchSize: 100, reportBatchItemFailures: false, bisectOnError: false, maximumRetryAttempts: -1, maximumRecordAgeMs: -1 });
    expect(
      batchPolicy(
        EventSourceMappingSpecSchema.parse({ ...base, batchSize: 10, functionResponseTypes: ['ReportBatchItemFailures'], bisectBatchOnFunctionError: true, maximumRetryAttempts: 3, maximumRecordAgeInSeconds: 60 }),
      ),
    ).toEqual({ batchSize: 10, reportBatchItemFailures: true, bisectOnError: true, maximumRetryAttempts: 3, maximumRecordAgeMs: 60_000 });
  });
  it('caps infinite retries at 10 when there is an on-failure destination, as Lambda does for Kafka', () => {
    const withDest = { ...base, destinationConfig: { onFailure: { destination: 'kafka://dlq' } } };
    expect(batchPolicy(EventSourceMappingSpecSchema.parse(withDest)).maximumRetryAttempts).toBe(10);
    expect(batchPolicy(EventSourceMappingSpecSchema.parse({ ...withDest, maximumRetryAttempts: 50 })).maximumRetryAttempts).toBe(50);
    expect(batchPolicy(EventSourceMappingSpecSchema.parse({ ...base, destinationConfig: {} })).maximumRetryAttempts).toBe(-1);
  });
});
