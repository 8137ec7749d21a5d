// What a stream connector (Kafka: src/sources/kafka/, Redis Streams:
// src/sources/redis-streams/) does for one mapping on one gateway: joins the
// mapping's consumer group, is given some of its partitions (the broker's
// group rebalance, or a lease per stream), reads each assigned partition in
// order and hands the records to that partition's processor, and commits a
// position only when the processor says the records up to it are done.
// Partitions are shared between gateway replicas this way; when a gateway
// leaves, its partitions go to the others, which go on from the last commit
// (at-least-once: a batch that was running may run again).
import type { SourceRecord } from './records.js';

/** One partition's ordered processing, made by the mapping runner (partition-processor.ts) and driven by a connector. */
export interface PartitionSink {
  /**
   * Processes these records, the partition's next ones in order (batches of
   * batchSize, retries, bisection, partial failures, onFailure), calling
   * `commit` as runs of them are done. Resolves once every one is done and
   * committed. Rejects with the signal's reason when the signal aborts (the
   * partition was revoked, the gateway is leaving): then nothing after the
   * last commit counts as done, and whoever reads the partition next reads it
   * again from there.
   */
  process(records: readonly SourceRecord[], signal: AbortSignal): Promise<void>;
  /**
   * A graceful stop (drain.ts): the invocation in flight finishes and what it
   * settled is committed, but nothing new starts (no next batch, no retry);
   * the call in flight then resolves with the records after that left
   * uncommitted for the partition's next owner, and later calls do nothing.
   * The signal still aborts what runs (the drain deadline). Optional: a sink
   * without it is only ever aborted.
   */
  drain?(): void;
}

/** What the mapping runner gives a connector. */
export interface ConnectorHandlers {
  /** A partition assigned to this gateway: the sink to feed it to, and `commit`, which the sink calls with the position through which every record is done. */
  sinkFor(partition: string, commit: (position: string) => Promise<void>): PartitionSink;
  /** Tells the runner a partition left this gateway (revoked or the connector stopping); its in-flight batch's signal has aborted. */
  released(partition: string): void;
  /** A problem reaching the source (broker down, auth refused, no such topic): the mapping's lastProcessingResult says PROBLEM: … */
  problem(message: string): void;
}

/** Records not yet committed, per partition (all of the mapping's partitions, not only this gateway's). */
export type PartitionLag = Array<{ partition: string; lag: number }>;

export interface Connector {
  /** Joins the group and starts reading; resolves once it has joined (the first assignment may come later). */
  start(handlers: ConnectorHandlers): Promise<void>;
  /**
   * Leaves the group. With `drainMs` (a graceful stop: drain.ts) it first stops
   * fetching and starting batches and lets each partition's batch in flight
   * finish and commit (its sink's drain), for at most drainMs, keeping its
   * partitions (leases renewed, group heartbeats) meanwhile; then, as without
   * it, what still runs is aborted, the partitions' last commits stand, and
   * they are let go. Idempotent: a second call waits for the first.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
  /** Lag of every partition of the mapping, from the source (committed vs end). */
  lag(): Promise<PartitionLag>;
}
