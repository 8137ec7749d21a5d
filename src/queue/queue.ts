// The async invocation queue as the rest of Hearth sees it. Two
// implementations share this interface and one contract test suite: memory
// (the embedded default) and Redis Streams (gateways in a cluster).
import type { FunctionCatalog } from '../api/catalog.js';
import type { Invoker } from '../dispatch/invoker.js';
import type { QueueMetrics } from '../metrics/queue.js';
import type { Logger } from 'pino';
import type { DestinationRecord } from './records.js';
import type { DeadLetterCondition } from './retry-policy.js';

/** The header the routes read an idempotency key from. */
export const IDEMPOTENCY_HEADER = 'x-hearth-idempotency-key';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface EnqueueRequest {
  functionName: string;
  /** The version or alias the caller named; kept with the event, and through retries and redrive. Resolved when the event runs. */
  qualifier?: string;
  payload: Buffer;
  /** The gateway's request id; one is made when absent. */
  requestId?: string;
  /** Enqueues with the same key for the same function within the window return the first request id. */
  idempotencyKey?: string;
  traceId?: string;
  /** The span to parent the enqueue's span under, as a W3C traceparent (src/tracing). */
  traceparent?: string;
  clientContext?: string;
}

export interface EnqueueResult {
  requestId: string;
  /** True when an idempotency key matched an earlier enqueue; nothing new was queued. */
  duplicate: boolean;
}

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead-lettered';

/** The statuses an invocation ends in. */
export const FINISHED_STATUSES: ReadonlySet<InvocationStatus> = new Set(['succeeded', 'failed', 'dead-lettered']);

/**
 * When a record write applies: always; only where there is none
 * ('absent', the enqueue's first record); or only over a record that is not
 * finished ('unfinished', for the views written on the way: a 'running' or
 * hand-back 'queued' write that arrives late, resent after a reconnect, must
 * not bury the result).
 */
export type RecordWrite = 'always' | 'absent' | 'unfinished';

export interface InvocationRecord {
  requestId: string;
  functionName: string;
  /** The version or alias the caller named, when it named one. */
  qualifier?: string;
  /** The version that last ran the event ($LATEST or a number). */
  executedVersion?: string;
  status: InvocationStatus;
  /** Times the function actually ran for this event. */
  attempts: number;
  /** Throttles and system errors met so far. */
  systemErrors: number;
  /** ISO timestamps. */
  enqueuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** When a retry is waiting: its due time. */
  nextAttemptAt?: string;
  condition?: DeadLetterCondition | 'Success';
  result?: {
    statusCode: number;
    functionError?: 'Handled' | 'Unhandled';
    errorType?: string;
    /** The response (or error JSON) as text. */
    payload: string;
  };
  /** The last platform error (throttle, unavailable, not found). */
  lastError?: string;
}

export interface DeadLetter {
  /** The dead-letter stream's entry id. */
  id: string;
  requestId: string;
  functionName: string;
  deadLetteredAt: string;
  /** Lambda's destination record for the failure. */
  record: DestinationRecord;
}

export interface RedriveResult {
  redriven: number;
  requestIds: string[];
}

export interface Backlog {
  /** Delivered to a consumer, not yet acknowledged. */
  pending: number;
  /** Accepted, not yet delivered to any consumer. */
  lag: number;
  /** Waiting for a retry's due time. */
  delayed: number;
  deadLettered: number;
  /** Age of the oldest event in the stream, in seconds (0 when empty). */
  oldestAgeSeconds: number;
}

/** Thrown by enqueue (and the other calls) while the queue's store cannot be reached: answer 503 with Retry-After. */
export class QueueUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'QueueUnavailableError';
  }
}

/**
 * Thrown by enqueue when the in-memory queue's events not yet finished fill
 * its bounds: nothing accepted is ever evicted, so new events are refused
 * (429 TooManyRequestsException) until some finish.
 */
export class QueueFullError extends Error {
  constructor(
    readonly reason: string,
    readonly retryAfterSeconds: number = 1,
  ) {
    super(`The event queue is full: ${reason}. Retry later.`);
    this.name = 'QueueFullError';
  }
}

/** What the in-memory queue holds against its bounds (hearth_queue_memory_*). */
export interface MemoryQueueStats {
  /** Bytes of events, records (results) and dead letters held. */
  bytes: number;
  records: number;
  /** Events accepted and not yet finished. */
  events: number;
  evicted: { record: number; 'dead-letter': number };
  /** Enqueues refused because unfinished events filled the bounds. */
  refused: number;
  bounds: { maxBytes: number; maxRecords: number };
}

export interface ConsumerOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  /** The scheduling parts (age, due times) read this clock; tests move it. */
  clock?: Clock;
  /** Unique per process; a restarted process is a new consumer whose predecessor's entries are reclaimed. */
  consumerName?: string;
  /** Multiplies retry delays and backoffs (1 in production). */
  timeScale?: number;
  /** How long an entry may stay unacknowledged before another consumer reclaims it; must exceed the function's timeout. */
  visibilityTimeoutMs?: (functionTimeoutMs: number) => number;
  /** Upper bound on one consumer's in-flight invocations per function, below the function's own capacity. */
  maxInFlightPerFunction?: number;
  /** How long one read waits for new events. */
  blockMs?: number;
  /** Period of the retry mover, the reclaimer and the backlog gauges. */
  maintenanceIntervalMs?: number;
  /**
   * On stop, give the events not yet sent to an instance back to the group
   * for another consumer (default: where other processes share the queue,
   * Redis); otherwise they run here before stop returns.
   */
  handBackOnStop?: boolean;
  /** Where Lambda records name the function. */
  functionArn?: (functionName: string) => string;
  metrics?: QueueMetrics;
  logger?: Logger;
}

export interface Consumer {
  readonly name: string;
  /** Stops reading, waits for in-flight events to be recorded, releases connections. */
  stop(): Promise<void>;
}

export interface Queue {
  readonly kind: 'memory' | 'redis';
  /** Resolves once the store has durably taken the event (Redis acknowledged the XADD). */
  enqueue(req: EnqueueRequest): Promise<EnqueueResult>;
  record(requestId: string): Promise<InvocationRecord | undefined>;
  listDeadLetters(functionName: string, opts?: { limit?: number }): Promise<DeadLetter[]>;
  /** Moves dead-lettered events back into the function's queue as fresh events (same request ids). */
  redrive(functionName: string, opts?: { limit?: number }): Promise<RedriveResult>;
  backlog(functionName: string): Promise<Backlog>;
  /** Entries appended to a stream destination (for the memory queue; Redis reads the stream itself). */
  readStream(stream: string, opts?: { limit?: number }): Promise<Array<{ id: string; record: DestinationRecord }>>;
  startConsumer(opts: ConsumerOptions): Consumer;
  /** The in-memory queue only: what it holds against its bounds. */
  memoryStats?(): MemoryQueueStats | undefined;
  /** The in-memory queue only: why a record is gone, when it was evicted. */
  evictionNote?(requestId: string): string | undefined;
  close(): Promise<void>;
}
