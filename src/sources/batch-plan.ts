// What a partition processor does after each invocation of a batch, as a
// pure decision (Lambda's stream semantics): commit, retry, bisect, retry
// from the first reported failure, or send to onFailure. The processor
// (partition-processor.ts) runs the decisions; this file makes them.
//
// CONTRACT (lead): the signatures below are fixed; the helper that owns this
// file implements them with table-driven tests.
import type { EventSourceMappingSpec } from '../api/event-source-mapping.js';
import type { InvokeResult } from '../agent/invocation.js';
import { partitionOf, positionOf, timestampOf, type SourceRecord } from './records.js';

/** The parts of a mapping's spec the decisions read. */
export interface BatchPolicy {
  batchSize: number;
  reportBatchItemFailures: boolean;
  bisectOnError: boolean;
  /** -1: no limit. */
  maximumRetryAttempts: number;
  /** -1: no limit. */
  maximumRecordAgeMs: number;
}

/**
 * Lambda caps retries at 10 when a Kafka mapping has an on-failure destination
 * and infinite retries (-1): otherwise a poison record would hold its partition
 * until it ages out, and the destination would never see it. Hearth applies
 * the same cap to Redis Streams mappings.
 */
export const RETRY_CAP_WITH_DESTINATION = 10;

export function batchPolicy(spec: EventSourceMappingSpec): BatchPolicy {
  const hasDestination = spec.destinationConfig?.onFailure !== undefined;
  return {
    batchSize: spec.batchSize,
    reportBatchItemFailures: spec.functionResponseTypes?.includes('ReportBatchItemFailures') ?? false,
    bisectOnError: spec.bisectBatchOnFunctionError,
    maximumRetryAttempts: spec.maximumRetryAttempts === -1 && hasDestination ? RETRY_CAP_WITH_DESTINATION : spec.maximumRetryAttempts,
    maximumRecordAgeMs: spec.maximumRecordAgeInSeconds === -1 ? -1 : spec.maximumRecordAgeInSeconds * 1000,
  };
}

/** How the invocation of a batch ended. `platform`: it could not run (throttled, no instance, not found): retried, never counted against maximumRetryAttempts. */
export type BatchResult =
  | { kind: 'invoked'; result: InvokeResult }
  | { kind: 'platform'; error: string };

/**
 * Why a batch went to onFailure (Lambda's requestContext.condition).
 * `PayloadTooLarge`: the batch's event is over the invoke payload limit; the
 * failure record names it as Lambda does, `MaximumPayloadSizeExceeded`.
 */
export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded' | 'PayloadTooLarge';

/**
 * What to do next with the batch just invoked:
 * - `done`: every record of it is done; commit through the last.
 * - `retry`: invoke `records` again (after `retryDelayMs(attempt)`); `attempt` is the number of that retry,
 *   counting only function errors: the function errors of these records so far, and so the `attempts` of the
 *   batch state for that invocation (it stays as it was after a platform error, and may then be 0).
 *   `commitThrough`: the position before `records` that is now done, if any (a partial batch failure).
 * - `split`: bisect: process `first`, then `second`, each as its own batch starting with `attempts` function
 *   errors: the count before the invocation that failed, as bisecting does not use up a retry. Halving goes on
 *   down to single records, which then use up retries, so only the bad record goes to onFailure.
 * - `fail`: send `records` to onFailure with `condition` and the last result, then commit through the last of them;
 *   `rest`: records of the batch that still need processing after them (a partial failure's later records, already
 *   tried), to be processed as a new batch (attempts 0).
 */
export type BatchDecision =
  | { kind: 'done' }
  | { kind: 'retry'; records: readonly SourceRecord[]; attempt: number; commitThrough?: string }
  | { kind: 'split'; first: readonly SourceRecord[]; second: readonly SourceRecord[]; attempts: number }
  | { kind: 'fail'; records: readonly SourceRecord[]; condition: FailureCondition; rest: readonly SourceRecord[] };

export interface BatchState {
  records: readonly SourceRecord[];
  /** Invocations of these records that ended in a function error so far (0 before the first). */
  attempts: number;
}

/**
 * Whether the oldest of these records is older than the policy allows.
 * Lambda sends no record older than maximumRecordAge to the function: the
 * processor asks this before invoking a batch too (then `fail` it with
 * RecordAgeExceeded, without an invocation); `decide` asks it before a retry.
 */
export function recordAgeExceeded(policy: Pick<BatchPolicy, 'maximumRecordAgeMs'>, records: readonly SourceRecord[], nowMs: number): boolean {
  if (policy.maximumRecordAgeMs === -1 || records.length === 0) return false;
  let oldest = Infinity;
  for (const r of records) oldest = Math.min(oldest, timestampOf(r));
  return nowMs - oldest > policy.maximumRecordAgeMs;
}

/**
 * What a function's answer says under ReportBatchItemFailures (Lambda's rules):
 * - `ok`: every record succeeded: an empty payload, JSON null, an object without
 *   `batchItemFailures`, or a null or empty list.
 * - `failed`: retry from `index`, the lowest position reported failed.
 * - `invalid`: the whole batch failed, as a function error: not JSON, JSON that
 *   is not an object, a list that is not a list, an entry without an
 *   `itemIdentifier` (a bad key name), an empty or null identifier, or one that
 *   names no record of the batch.
 *
 * Identifiers: a Redis Streams entry id (string). For Kafka, Lambda's own form
 * `{"partition": "TOPIC-N", "offset": 100}` (the partition must be the batch's;
 * the offset a number or a decimal string); Hearth also accepts the bare offset,
 * as a number or a decimal string, as the Kinesis form would name a record.
 */
export type ItemFailures = { kind: 'ok' } | { kind: 'failed'; index: number } | { kind: 'invalid'; reason: string };

export function readItemFailures(payload: Buffer, records: readonly SourceRecord[]): ItemFailures {
  const text = payload.toString('utf8').trim();
  if (text === '') return { kind: 'ok' };
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    return { kind: 'invalid', reason: 'the response is not JSON' };
  }
  if (body === null) return { kind: 'ok' };
  if (typeof body !== 'object' || Array.isArray(body)) return { kind: 'invalid', reason: 'the response is not a JSON object' };
  const list = (body as Record<string, unknown>)['batchItemFailures'];
  if (list === undefined || list === null) return { kind: 'ok' };
  if (!Array.isArray(list)) return { kind: 'invalid', reason: 'batchItemFailures is not a list' };
  if (list.length === 0) return { kind: 'ok' };
  let lowest = Infinity;
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null || !('itemIdentifier' in entry)) return { kind: 'invalid', reason: 'a batchItemFailures entry has no itemIdentifier' };
    const id = (entry as Record<string, unknown>)['itemIdentifier'];
    const index = indexOfIdentifier(id, records);
    if (index === -1) return { kind: 'invalid', reason: `itemIdentifier ${JSON.stringify(id) ?? String(id)} names no record of the batch` };
    lowest = Math.min(lowest, index);
  }
  return { kind: 'failed', index: lowest };
}

const DECIMAL = /^\d+$/;

function offsetText(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && DECIMAL.test(v)) return BigInt(v).toString();
  return undefined;
}

function indexOfIdentifier(id: unknown, records: readonly SourceRecord[]): number {
  if (id === null || id === undefined || id === '') return -1;
  return records.findIndex((r) => {
    if (r.source === 'redis-streams') return typeof id === 'string' && id === r.id;
    if (typeof id === 'object') {
      const { partition, offset } = id as Record<string, unknown>;
      return partition === partitionOf(r) && offsetText(offset) === r.offset;
    }
    return offsetText(id) === r.offset;
  });
}

/** Decides after one invocation; `nowMs` for record age. Pure. */
export function decide(policy: BatchPolicy, state: BatchState, result: BatchResult, nowMs: number): BatchDecision {
  const { records } = state;
  if (result.kind === 'platform') {
    // The function did not run: no retry is used up, but records still age out.
    if (recordAgeExceeded(policy, records, nowMs)) return { kind: 'fail', records, condition: 'RecordAgeExceeded', rest: [] };
    return { kind: 'retry', records, attempt: state.attempts };
  }
  const { outcome, payload } = result.result;
  if (outcome === 'success') {
    if (!policy.reportBatchItemFailures) return { kind: 'done' };
    const failures = readItemFailures(payload, records);
    if (failures.kind === 'ok') return { kind: 'done' };
    if (failures.kind === 'failed') return partialFailure(policy, state, failures.index, nowMs);
  }
  return functionError(policy, state, nowMs);
}

function functionError(policy: BatchPolicy, state: BatchState, nowMs: number): BatchDecision {
  const { records } = state;
  const errors = state.attempts + 1;
  if (recordAgeExceeded(policy, records, nowMs)) return { kind: 'fail', records, condition: 'RecordAgeExceeded', rest: [] };
  // A split is not a retry: it happens whatever retries are left, down to single records.
  if (policy.bisectOnError && records.length > 1) {
    const half = Math.ceil(records.length / 2);
    return { kind: 'split', first: records.slice(0, half), second: records.slice(half), attempts: state.attempts };
  }
  if (policy.maximumRetryAttempts !== -1 && errors > policy.maximumRetryAttempts) return { kind: 'fail', records, condition: 'RetryAttemptsExhausted', rest: [] };
  return { kind: 'retry', records, attempt: errors };
}

/**
 * Lambda checkpoints before the lowest reported failure and retries from
 * there: the failed record and every one after it, successes included (with
 * bisection on too, it splits the batch at that record and retries only the
 * rest). The records before it are done (committed with the retry, or with
 * the failure). When retries are exhausted, the lowest failed record goes to
 * onFailure and the records after it go on as a new batch; when the records
 * to retry are too old, all of them go.
 */
function partialFailure(policy: BatchPolicy, state: BatchState, index: number, nowMs: number): BatchDecision {
  const done = state.records.slice(0, index);
  const again = state.records.slice(index);
  const errors = state.attempts + 1;
  const commitThrough = done.length > 0 ? positionOf(done[done.length - 1] as SourceRecord) : undefined;
  if (recordAgeExceeded(policy, again, nowMs)) return { kind: 'fail', records: again, condition: 'RecordAgeExceeded', rest: [] };
  if (policy.maximumRetryAttempts !== -1 && errors > policy.maximumRetryAttempts) {
    return { kind: 'fail', records: again.slice(0, 1), condition: 'RetryAttemptsExhausted', rest: again.slice(1) };
  }
  return commitThrough === undefined ? { kind: 'retry', records: again, attempt: errors } : { kind: 'retry', records: again, attempt: errors, commitThrough };
}

/** First retry's delay. */
export const RETRY_BASE_DELAY_MS = 100;
/** Longest delay between retries: short enough that a partition stuck on a poison record still moves on to onFailure within a test's patience. */
export const RETRY_MAX_DELAY_MS = 10_000;

/**
 * The delay before retry `attempt` (1-based) of a batch: Lambda backs off
 * exponentially; Hearth from 100 ms, doubling, at most 10 s. Attempts below 1
 * (a retry after platform errors only) wait the first delay. Pure.
 */
export function retryDelayMs(attempt: number): number {
  if (!Number.isFinite(attempt) || attempt <= 1) return RETRY_BASE_DELAY_MS;
  return Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.min(attempt - 1, 30));
}
