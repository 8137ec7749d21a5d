// The Queue both implementations share: request-level logic (request ids,
// idempotency, invocation records, redrive) over a QueueStore.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { QueueMetrics } from '../metrics/queue.js';
import { startConsumer } from './consumer.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_MS, idempotencyToken } from './idempotency.js';
import {
  QueueFullError,
  QueueUnavailableError,
  systemClock,
  type Backlog,
  type Clock,
  type Consumer,
  type ConsumerOptions,
  type DeadLetter,
  type EnqueueRequest,
  type EnqueueResult,
  type InvocationRecord,
  type MemoryQueueStats,
  type Queue,
  type RedriveResult,
} from './queue.js';
import type { DestinationRecord } from './records.js';
import type { QueueStore, StoredEvent } from './store.js';
import { SpanKind, startSpan, tracing } from '../tracing/spans.js';

export interface QueueOptions {
  /** How long invocation records are kept (default 24 h). */
  recordTtlMs?: number;
  /** Window in which an idempotency key deduplicates enqueues (default 10 min). */
  idempotencyWindowMs?: number;
  /** Defaults for consumers started from this queue. */
  timeScale?: number;
  clock?: Clock;
  metrics?: QueueMetrics;
  logger?: Logger;
}

export const DEFAULT_RECORD_TTL_MS = 24 * 3600_000;
const MAX_LIST = 1000;

function limitOf(n: number | undefined, dflt: number): number {
  if (n === undefined || !Number.isFinite(n)) return dflt;
  return Math.max(1, Math.min(MAX_LIST, Math.floor(n)));
}

/** A store's failure as the queue reports it: unavailable (503), unless it already says what it is. */
function unavailable(what: string, err: unknown): unknown {
  if (err instanceof QueueUnavailableError || err instanceof QueueFullError) return err;
  return new QueueUnavailableError(`queue unavailable (${what}): ${err instanceof Error ? err.message : String(err)}`, 1, { cause: err });
}

export class StoreQueue implements Queue {
  readonly #consumers = new Set<Consumer>();
  /**
   * The metrics a process gave its consumer, which count its enqueues too
   * when the queue was made without any: the gateways make the queue before
   * the registry (hearth_queue_enqueued_total and _deduplicated_total were
   * never counted otherwise).
   */
  #consumerMetrics: QueueMetrics | undefined;

  constructor(
    readonly kind: 'memory' | 'redis',
    readonly store: QueueStore,
    readonly opts: QueueOptions = {},
  ) {}

  #isoAt = Number.NaN;
  #iso = '';

  /** The clock's time as ISO: one Date per millisecond, not one per enqueue (enqueues come in bursts of a turn). */
  #isoOf(now: number): string {
    if (now !== this.#isoAt) {
      this.#iso = new Date(now).toISOString();
      this.#isoAt = now;
    }
    return this.#iso;
  }

  get #recordTtlMs(): number {
    return this.opts.recordTtlMs ?? DEFAULT_RECORD_TTL_MS;
  }

  get #clock(): Clock {
    return this.opts.clock ?? systemClock;
  }

  async #guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw unavailable(what, err);
    }
  }

  async enqueue(req: EnqueueRequest): Promise<EnqueueResult> {
    // Validated before touching the store, so a bad key is the caller's error, not a 503.
    const token = req.idempotencyKey !== undefined ? idempotencyToken(req.idempotencyKey) : undefined;
    const now = this.#clock.now();
    const requestId = req.requestId ?? randomUUID();
    // The event carries this span's context: the consumer's wait and the invocation continue the trace from it.
    // With tracing off there is no span, and no attributes are built for one: this runs for every 202.
    const span = tracing('gateway')
      ? startSpan('gateway', 'queue enqueue', req.traceparent, {
          kind: SpanKind.PRODUCER,
          attributes: { 'messaging.system': `hearth-${this.kind}`, 'messaging.operation.type': 'send', 'messaging.destination.name': req.functionName, 'faas.invocation_id': requestId },
        })
      : undefined;
    const traceparent = span ? span.traceparent : req.traceparent;
    const event: StoredEvent = { requestId, functionName: req.functionName, payload: req.payload, enqueuedAt: now, attempts: 0, functionErrors: 0, systemErrors: 0 };
    if (req.qualifier !== undefined) event.qualifier = req.qualifier;
    if (req.traceId !== undefined) event.traceId = req.traceId;
    if (traceparent !== undefined) event.traceparent = traceparent;
    if (req.clientContext !== undefined) event.clientContext = req.clientContext;
    const iso = this.#isoOf(now);
    // Written with the event (one round trip on Redis), and only where no record is: a consumer quicker than the answer keeps its own.
    const record: InvocationRecord = { requestId, functionName: req.functionName, status: 'queued', attempts: 0, systemErrors: 0, enqueuedAt: iso, updatedAt: iso };
    if (req.qualifier !== undefined) record.qualifier = req.qualifier;
    let res: EnqueueResult;
    try {
      res = await this.store.append(event, token !== undefined ? { token, windowMs: this.opts.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS } : undefined, { value: record, ttlMs: this.#recordTtlMs });
    } catch (err) {
      span?.fail((err as Error).message);
      span?.end();
      throw unavailable('enqueue', err);
    }
    if (span) {
      if (res.duplicate) span.setAttributes({ 'hearth.duplicate_of': res.requestId });
      span.end();
    }
    const metrics = this.opts.metrics ?? this.#consumerMetrics;
    if (res.duplicate) metrics?.deduplicated.inc({ function: req.functionName });
    else metrics?.enqueued.inc({ function: req.functionName });
    return res;
  }

  record(requestId: string): Promise<InvocationRecord | undefined> {
    return this.#guard('record', () => this.store.getRecord(requestId));
  }

  async listDeadLetters(functionName: string, opts: { limit?: number } = {}): Promise<DeadLetter[]> {
    const entries = await this.#guard('list dead letters', () => this.store.listDeadLetters(functionName, limitOf(opts.limit, 100)));
    return entries.map((e) => ({
      id: e.id,
      requestId: e.event.requestId,
      functionName,
      deadLetteredAt: new Date(e.deadLetteredAt).toISOString(),
      record: e.record,
    }));
  }

  async redrive(functionName: string, opts: { limit?: number } = {}): Promise<RedriveResult> {
    const now = this.#clock.now();
    const iso = this.#isoOf(now);
    const moved = await this.#guard('redrive', () =>
      this.store.redrive(functionName, limitOf(opts.limit, MAX_LIST), now, (e) =>
        this.store.putRecord({ requestId: e.requestId, functionName, ...(e.qualifier !== undefined ? { qualifier: e.qualifier } : {}), status: 'queued', attempts: 0, systemErrors: 0, enqueuedAt: iso, updatedAt: iso }, this.#recordTtlMs),
      ),
    );
    return { redriven: moved.length, requestIds: moved.map((e) => e.requestId) };
  }

  backlog(functionName: string): Promise<Backlog> {
    return this.#guard('backlog', () => this.store.backlog(functionName, this.#clock.now()));
  }

  readStream(stream: string, opts: { limit?: number } = {}): Promise<Array<{ id: string; record: DestinationRecord }>> {
    return this.#guard('read stream', () => this.store.readStream(stream, limitOf(opts.limit, 100)));
  }

  memoryStats(): MemoryQueueStats | undefined {
    return this.store.stats?.();
  }

  evictionNote(requestId: string): string | undefined {
    return this.store.evictionNote?.(requestId);
  }

  startConsumer(opts: ConsumerOptions): Consumer {
    this.#consumerMetrics ??= opts.metrics;
    const consumer = startConsumer(
      {
        store: this.store,
        recordTtlMs: this.#recordTtlMs,
        sinks: { appendToStream: (s, r) => this.store.appendToStream(s, r), enqueue: (r) => this.enqueue(r) },
      },
      {
        ...(this.opts.timeScale !== undefined ? { timeScale: this.opts.timeScale } : {}),
        ...(this.opts.metrics ? { metrics: this.opts.metrics } : {}),
        ...(this.opts.logger ? { logger: this.opts.logger } : {}),
        // Memory is one process's alone: nobody else would take what it gave back.
        handBackOnStop: this.kind === 'redis',
        ...opts,
      },
    );
    this.#consumers.add(consumer);
    const stop = consumer.stop.bind(consumer);
    return {
      name: consumer.name,
      stop: async () => {
        this.#consumers.delete(consumer);
        await stop();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.stop()));
    this.#consumers.clear();
    await this.store.close();
  }
}
