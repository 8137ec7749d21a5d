// What a partition processor does after each invocation of a batch, as a
// pure decision (Lambda's stream semantics): commit, retry, bisect, retry
// from the first reported failure, or send to onFailure. The processor
// (partition-processor.ts) runs the decisions; this file makes them.
//
// CONTRACT (lead): the signatures below are fixed; the helper that owns this
// file implements them with table-driven tests.
import type { EventSourceMappingSpec } from '../api/event-source-mapping.js';
import type { InvokeResult } from '../agent/invocation.js';
import type { SourceRecord } from './records.js';

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

export function batchPolicy(spec: EventSourceMappingSpec): BatchPolicy {
  return {
    batchSize: spec.batchSize,
    reportBatchItemFailures: spec.functionResponseTypes?.includes('ReportBatchItemFailures') ?? false,
    bisectOnError: spec.bisectBatchOnFunctionError,
    maximumRetryAttempts: spec.maximumRetryAttempts,
    maximumRecordAgeMs: spec.maximumRecordAgeInSeconds === -1 ? -1 : spec.maximumRecordAgeInSeconds * 1000,
  };
}

/** How the invocation of a batch ended. `platform`: it could not run (throttled, no instance, not found): retried, never counted against maximumRetryAttempts. */
export type BatchResult =
  | { kind: 'invoked'; result: InvokeResult }
  | { kind: 'platform'; error: string };

/** Why a batch went to onFailure (Lambda's requestContext.condition). */
export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded' | 'PayloadTooLarge';

/**
 * What to do next with the batch just invoked:
 * - `done`: every record of it is done; commit through the last.
 * - `retry`: invoke `records` again (after the retry delay); `attempt` is that invocation's number
 *   (1-based, counting only function errors), `commitThrough` the position before them that is now done, if any.
 * - `split`: bisect: process `first`, then `second`, each as its own batch with the same attempt count.
 * - `fail`: send `records` to onFailure with `condition` and the last result, then commit through the last of them;
 *   `rest`: records of the batch that still need processing after them (a partial failure's later records, already tried).
 */
export type BatchDecision =
  | { kind: 'done' }
  | { kind: 'retry'; records: readonly SourceRecord[]; attempt: number; commitThrough?: string }
  | { kind: 'split'; first: readonly SourceRecord[]; second: readonly SourceRecord[] }
  | { kind: 'fail'; records: readonly SourceRecord[]; condition: FailureCondition; rest: readonly SourceRecord[] };

export interface BatchState {
  records: readonly SourceRecord[];
  /** Invocations of these records that ended in a function error so far (0 before the first). */
  attempts: number;
}

/** Decides after one invocation; `nowMs` for record age. Pure. */
export function decide(policy: BatchPolicy, state: BatchState, result: BatchResult, nowMs: number): BatchDecision {
  void policy;
  void state;
  void result;
  void nowMs;
  throw new Error('batch-plan: not implemented yet');
}

/** The delay before retry `attempt` (1-based) of a batch: Lambda backs off exponentially; bounded. Pure. */
export function retryDelayMs(attempt: number): number {
  void attempt;
  throw new Error('batch-plan: not implemented yet');
}
