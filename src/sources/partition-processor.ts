// One partition's ordered processing for an event-source mapping, driven by
// its connector (PartitionSink): filter, slice into batches, invoke each
// batch synchronously, and act on batch-plan's decision (commit, retry after
// a backoff, bisect, retry from the first reported failure, or send to
// onFailure and go on). A position is committed only once every record up to
// it is done: invoked successfully, filtered out, or sent to onFailure. One
// batch of a partition is in flight at a time; the mapping's slots
// (concurrency-slots.ts) bound batches in flight across its partitions (maximumConcurrency).
// drain() (a graceful stop, drain.ts) lets the invocation in flight finish and
// settle, and starts nothing after it.
import { randomUUID } from 'node:crypto';
import { DispatchError, type Invoker } from '../dispatch/invoker.js';
import { decide, retryDelayMs, type BatchPolicy, type BatchResult, type FailureCondition } from './batch-plan.js';
import type { PartitionSink } from './connector.js';
import { positionOf, type SourceRecord } from './records.js';
import { sleep } from './abortable-wait.js';
import { mayStart, type PartitionStep } from './drain.js';
import type { BatchSlots } from './concurrency-slots.js';

/** Lambda's limit on a synchronous invocation's payload: a batch larger than this is split, a single larger record goes to onFailure. */
export const MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** What a batch that could not be processed is sent with (failure-record.ts builds Lambda's record from it). */
export interface FailedBatch {
  records: readonly SourceRecord[];
  condition: FailureCondition;
  last?: BatchResult;
  requestId: string;
  approximateInvokeCount: number;
  payloadSize: number;
}

/** What a processor tells its mapping (status, metrics, logs). */
export interface ProcessorObserver {
  filtered?(count: number): void;
  /** One invocation of `size` records ended so (a result or a platform error). */
  invoked?(size: number, result: BatchResult, durationMs: number): void;
  /** How a batch ended: done, retried, split, or failed to onFailure. */
  batch?(outcome: 'success' | 'retry' | 'split' | 'failure', size: number): void;
  committed?(position: string): void;
}

export interface PartitionProcessorOptions {
  functionName: string;
  qualifier?: string;
  invoker: Invoker;
  policy: BatchPolicy;
  /** The mapping's filter criteria, compiled: true to invoke the record; false to commit it without an invocation. */
  filter: (r: SourceRecord) => boolean;
  /** The function's event for a batch. */
  payload: (records: readonly SourceRecord[]) => Buffer;
  /** Delivers a failed batch to onFailure; resolves once it is delivered (or there is nowhere to send it), rejects only on abort. */
  sendFailure: (batch: FailedBatch, signal: AbortSignal) => Promise<void>;
  /** Given by the connector: every record through this position is done. */
  commit: (position: string) => Promise<void>;
  /** The mapping's bound on batches in flight (maximumConcurrency: on this gateway, or shared by every gateway); none: unbounded. */
  slots?: BatchSlots;
  observer?: ProcessorObserver;
  now?: () => number;
  /** Retry delays for tests (default: batch-plan's retryDelayMs). */
  delayMs?: (attempt: number) => number;
}

interface Work {
  records: readonly SourceRecord[];
  attempts: number;
  /** How this work came about: while draining, none of these starts (drain.ts). */
  step: Extract<PartitionStep, 'batch' | 'retry' | 'split' | 'rest'>;
}

export class PartitionProcessor implements PartitionSink {
  readonly #o: PartitionProcessorOptions;
  readonly #now: () => number;
  #busy = false;
  /** Aborted by drain(): ends a wait for a slot or a retry backoff, which then start nothing. */
  readonly #draining = new AbortController();

  constructor(opts: PartitionProcessorOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** A graceful stop: the invocation in flight finishes and its outcome is committed; no batch or retry starts after it (PartitionSink.drain). */
  drain(): void {
    this.#draining.abort(new Error('the partition is draining'));
  }

  get #isDraining(): boolean {
    return this.#draining.signal.aborted;
  }

  async process(records: readonly SourceRecord[], signal: AbortSignal): Promise<void> {
    // The connector feeds a partition in order, one call at a time; two at once would break order.
    if (this.#busy) throw new Error('PartitionProcessor.process called while a call is running: one batch in flight per partition');
    this.#busy = true;
    try {
      await this.#processAll(records, signal);
    } finally {
      this.#busy = false;
    }
  }

  async #processAll(records: readonly SourceRecord[], signal: AbortSignal): Promise<void> {
    const { policy, filter } = this.#o;
    let batch: SourceRecord[] = [];
    let filtered = 0;
    // The last record taken (invoked or filtered out): once the batch before it is done, everything through it is.
    let lastTaken: SourceRecord | undefined;
    let committedThrough: string | undefined;
    const commit = async (r: SourceRecord | undefined): Promise<void> => {
      if (!r) return;
      const pos = positionOf(r);
      if (pos === committedThrough) return;
      signal.throwIfAborted();
      await this.#o.commit(pos);
      committedThrough = pos;
      this.#o.observer?.committed?.(pos);
    };
    for (const r of records) {
      signal.throwIfAborted();
      // Draining: the records from here on are left to the partition's next owner (a batch gathered and not run with them).
      if (!mayStart('batch', this.#isDraining)) break;
      if (!filter(r)) {
        filtered++;
        lastTaken = r;
        continue;
      }
      if (batch.length >= policy.batchSize) {
        // Drained mid-batch: what it finished is committed, nothing after it counts as done.
        if (!(await this.#runBatch(batch, signal, commit))) return;
        batch = [];
        if (!mayStart('batch', this.#isDraining)) break;
      }
      if (batch.length === 0 && lastTaken) {
        // Records filtered out before this batch's first are done: commit them now, so a partition of filtered-out records moves on.
        await commit(lastTaken);
      }
      batch.push(r);
      lastTaken = r;
    }
    if (filtered > 0) this.#o.observer?.filtered?.(filtered);
    if (batch.length > 0 && !(await this.#runBatch(batch, signal, commit))) return;
    await commit(lastTaken);
  }

  /**
   * Runs one batch to its end (every record invoked successfully or sent to onFailure), committing as parts of it finish: true.
   * False when draining stopped it first: the invocation in flight was settled and committed, and the records after it were not started.
   */
  async #runBatch(initial: readonly SourceRecord[], signal: AbortSignal, commit: (r: SourceRecord | undefined) => Promise<void>): Promise<boolean> {
    const { policy, observer } = this.#o;
    const todo: Work[] = [{ records: initial, attempts: 0, step: 'batch' }];
    let platformErrors = 0;
    while (todo.length > 0) {
      const work = todo.shift() as Work;
      signal.throwIfAborted();
      if (!mayStart(work.step, this.#isDraining)) return false;
      const payload = this.#o.payload(work.records);
      if (payload.length > MAX_BATCH_PAYLOAD_BYTES) {
        if (work.records.length > 1) {
          const half = Math.ceil(work.records.length / 2);
          todo.unshift({ records: work.records.slice(0, half), attempts: work.attempts, step: 'split' }, { records: work.records.slice(half), attempts: work.attempts, step: 'split' });
          continue;
        }
        await this.#fail({ records: work.records, condition: 'PayloadTooLarge', requestId: randomUUID(), approximateInvokeCount: work.attempts, payloadSize: payload.length }, signal);
        await commit(work.records.at(-1));
        continue;
      }
      const requestId = randomUUID();
      const result = await this.#invoke(work.records, payload, requestId, signal);
      // Drained while waiting for a slot: not invoked.
      if (result === undefined) return false;
      signal.throwIfAborted();
      const decision = decide(policy, { records: work.records, attempts: work.attempts }, result, this.#now());
      switch (decision.kind) {
        case 'done':
          observer?.batch?.('success', work.records.length);
          platformErrors = 0;
          await commit(work.records.at(-1));
          break;
        case 'retry': {
          observer?.batch?.('retry', work.records.length);
          if (decision.commitThrough !== undefined) {
            const through = work.records.find((r) => positionOf(r) === decision.commitThrough);
            await commit(through);
          }
          // A platform error (throttled, no instance, no such function) is not the function's: it backs off by its own count and never exhausts retries.
          const n = result.kind === 'platform' ? ++platformErrors : Math.max(1, decision.attempt);
          if (result.kind !== 'platform') platformErrors = 0;
          // A drain ends the backoff; the retry then does not start (the loop's check).
          const backoff = AbortSignal.any([signal, this.#draining.signal]);
          if (!backoff.aborted) {
            await sleep((this.#o.delayMs ?? retryDelayMs)(n), backoff).catch((err: unknown) => {
              if (signal.aborted || !this.#isDraining) throw err;
            });
          }
          todo.unshift({ records: decision.records, attempts: decision.attempt, step: 'retry' });
          break;
        }
        case 'split':
          observer?.batch?.('split', work.records.length);
          // Bisection does not count against the retry quota (Lambda): both halves keep the attempts so far.
          todo.unshift({ records: decision.first, attempts: work.attempts, step: 'split' }, { records: decision.second, attempts: work.attempts, step: 'split' });
          break;
        case 'fail':
          observer?.batch?.('failure', decision.records.length);
          await this.#fail(
            {
              records: decision.records,
              condition: decision.condition,
              last: result,
              requestId,
              approximateInvokeCount: work.attempts + (result.kind === 'invoked' ? 1 : 0),
              payloadSize: this.#o.payload(decision.records).length,
            },
            signal,
          );
          await commit(decision.records.at(-1));
          if (decision.rest.length > 0) todo.unshift({ records: decision.rest, attempts: 0, step: 'rest' });
          break;
      }
    }
    return true;
  }

  /** A slot of the mapping's bound; undefined when a drain began while waiting for it. */
  async #acquire(slots: BatchSlots, signal: AbortSignal): Promise<(() => void) | undefined> {
    try {
      return await slots.acquire(AbortSignal.any([signal, this.#draining.signal]));
    } catch (err) {
      if (!signal.aborted && this.#isDraining) return undefined;
      throw err;
    }
  }

  async #fail(batch: FailedBatch, signal: AbortSignal): Promise<void> {
    await this.#o.sendFailure(batch, signal);
    signal.throwIfAborted();
  }

  /** The invocation's result; undefined when a drain began while it waited for a slot (not invoked). */
  async #invoke(records: readonly SourceRecord[], payload: Buffer, requestId: string, signal: AbortSignal): Promise<BatchResult | undefined> {
    const release = this.#o.slots ? await this.#acquire(this.#o.slots, signal) : () => undefined;
    if (release === undefined) return undefined;
    const started = this.#now();
    const call = this.#o.invoker.invoke({
      functionName: this.#o.functionName,
      ...(this.#o.qualifier !== undefined ? { qualifier: this.#o.qualifier } : {}),
      requestId,
      payload,
      type: 'sync',
      signal,
    });
    // The slot is held until the call really ends, even when the partition gives up waiting for it.
    void call.then(release, release);
    let result: BatchResult;
    try {
      // A call already sent cannot be taken back; when the partition is given up (revoked, killed) it is not waited for: its result does not count.
      result = { kind: 'invoked', result: await abortable(call, signal) };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      result = { kind: 'platform', error: err instanceof DispatchError ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err) };
    }
    this.#o.observer?.invoked?.(records.length, result, this.#now() - started);
    return result;
  }
}

/** The promise's outcome, or the signal's reason as soon as it aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
