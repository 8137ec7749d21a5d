// A graceful stop of an event-source mapping on one gateway (a rollout or
// scale-down, the mapping disabled, changed or deleted): its connector stops
// fetching and starting batches, and each partition's invocation in flight is
// let finish and its outcome committed, so the next owner of the partition
// does not run those records again. What has not started by then is left to
// the next owner; at the drain deadline whatever still runs is aborted (its
// records run again there: at-least-once). A crash (kill) aborts at once.

/** What a partition processor may do next; while draining only what settles an invocation that already ran goes on. */
export type PartitionStep =
  /** A new batch: the partition's next records. */
  | 'batch'
  /** A batch again after a failed invocation (and its backoff). */
  | 'retry'
  /** One half of a bisected batch (bisectBatchOnFunctionError, or a payload too large to send). */
  | 'split'
  /** The records after those a failed invocation sent to onFailure (a partial batch failure). */
  | 'rest'
  /** Sending a batch whose invocation failed for good to onFailure: it settles that invocation, so its records are not run again. */
  | 'failure-delivery'
  /** Committing records that are done. */
  | 'commit';

/** Whether `step` may start now. Draining starts no invocation (no new batch, no retry, no half, no rest), but settles the one that ran. */
export function mayStart(step: PartitionStep, draining: boolean): boolean {
  if (!draining) return true;
  return step === 'commit' || step === 'failure-delivery';
}

/**
 * How long a mapping stopped on its own (disabled, changed, deleted, or the
 * runner stopped without a deadline) lets its in-flight batches finish. A
 * gateway's shutdown gives its own: the time left to its drain deadline,
 * which is a few seconds below the pod's terminationGracePeriodSeconds.
 */
export const DEFAULT_DRAIN_MS = 30_000;

/** The drain a stop gets by its deadline (epoch ms): the time left, never negative (0: abort at once). */
export function drainMsUntil(deadlineMs: number, nowMs: number): number {
  return Math.max(0, Math.floor(deadlineMs - nowMs));
}
