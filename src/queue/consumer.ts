// The consumer: one loop per function in the catalog that reads events from
// the queue's store, runs them through the same Invoker as sync calls and
// settles each with Lambda's async semantics. An entry is acknowledged only
// in the same atomic step that records its fate (a scheduled retry, a dead
// letter) or after its success is recorded; a consumer that dies leaves its
// entries pending and another consumer reclaims them once they have been idle
// longer than the function's timeout. A consumer that stops hands the entries
// it has not started back to the group at once, and finishes the ones it runs.
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AsyncConfig, HearthFunction } from '../api/function.js';
import { LIMITS } from '../api/function.js';
import type { InvokeResult } from '../agent/invocation.js';
import { DispatchError } from '../dispatch/invoker.js';
import type { QueueMetrics } from '../metrics/queue.js';
import { deliverRecord, destinationType, type DestinationSinks } from './destinations.js';
import type { Clock, Consumer, ConsumerOptions, InvocationRecord, InvocationStatus } from './queue.js';
import { systemClock } from './queue.js';
import { buildDestinationRecord, defaultFunctionArn, executedVersionOf, functionErrorOf, type RecordCondition } from './records.js';
import { isTooOld, nextStep, type DeadLetterCondition } from './retry-policy.js';
import type { Delivery, QueueStore, StoredEvent } from './store.js';
import { SpanKind, startSpan } from '../tracing/spans.js';

export interface ConsumerDeps {
  store: QueueStore;
  sinks: DestinationSinks;
  recordTtlMs: number;
}

const DEFAULT_ASYNC: AsyncConfig = {
  maxRetries: LIMITS.maxRetries.default,
  maxEventAgeSeconds: LIMITS.maxEventAgeSeconds.default,
  deadLetterQueue: { enabled: true },
};

/** Every replica restart leaves a consumer name in the group; forget the idle, empty ones now and then. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_IDLE_MS = 10 * 60_000;

/** Long enough for the dispatcher to find capacity as well as for the function to time out. */
export function defaultVisibilityTimeoutMs(functionTimeoutMs: number): number {
  return functionTimeoutMs + 60_000;
}

export function newConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** How many of one function's events a consumer takes at once: no more than the function can run. */
export function functionCapacity(fn: HearthFunction | undefined, cap: number): number {
  if (!fn) return 1;
  let n = fn.spec.scaling.maxInstances * fn.spec.concurrency;
  if (fn.spec.reservedConcurrency !== undefined) n = Math.min(n, fn.spec.reservedConcurrency);
  // Reserved concurrency 0 still gets one reader, so its events are throttled and age out as in Lambda.
  return Math.max(1, Math.min(n, cap));
}

class Stopper {
  stopped = false;
  readonly #wakers = new Set<() => void>();

  stop(): void {
    this.stopped = true;
    for (const w of this.#wakers) w();
    this.#wakers.clear();
  }

  /** Sleeps, waking early on stop. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }
}

interface Settings {
  name: string;
  clock: Clock;
  timeScale: number;
  visibilityTimeoutMs: (ms: number) => number;
  maxInFlight: number;
  blockMs: number;
  maintenanceIntervalMs: number;
  handBackOnStop: boolean;
  functionArn: (name: string) => string;
  metrics: QueueMetrics | undefined;
  logger: Logger | undefined;
}

/** What a worker's stop did with the entries it held. */
export interface StopReport {
  /** Given back to the group unstarted, for another consumer to run at once. */
  handedBack: number;
  /** Running (or being settled) when the stop began; each finished and was settled here. */
  finished: number;
}

class FunctionWorker {
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #stopper = new Stopper();
  /** Aborted on stop: invocations still waiting for an instance give up, and their events are handed back. */
  readonly #abort = new AbortController();
  readonly #handedBack = new Set<string>();
  #finishedWhileStopping = 0;
  #slotFreed: (() => void) | undefined;
  #cursor = '0-0';
  #lastPrune = Date.now();
  readonly #loops: Promise<void>[];

  constructor(
    readonly fn: string,
    readonly deps: ConsumerDeps,
    readonly opts: ConsumerOptions,
    readonly s: Settings,
  ) {
    // Every event waiting for an instance listens on it: as many as the function may run at once.
    setMaxListeners(0, this.#abort.signal);
    this.#loops = [this.#readLoop(), this.#maintenanceLoop()];
  }

  /** Running and waiting events when asked now. */
  get held(): number {
    return this.#inFlight.size;
  }

  async stop(): Promise<StopReport> {
    this.#stopper.stop();
    if (this.s.handBackOnStop) this.#abort.abort(new Error('the queue consumer is stopping'));
    this.#slotFreed?.();
    // A read or reclaim under way may still return entries: #take hands them back.
    await Promise.all(this.#loops);
    await Promise.all(this.#inFlight.values());
    return { handedBack: this.#handedBack.size, finished: this.#finishedWhileStopping };
  }

  get #definition(): HearthFunction | undefined {
    return this.opts.catalog.get(this.fn);
  }

  get #capacity(): number {
    return functionCapacity(this.#definition, this.s.maxInFlight);
  }

  get #visibilityMs(): number {
    const timeoutMs = (this.#definition?.spec.timeoutSeconds ?? LIMITS.timeoutSeconds.default) * 1000;
    return this.s.visibilityTimeoutMs(timeoutMs);
  }

  async #readLoop(): Promise<void> {
    let failures = 0;
    let prepared = false;
    while (!this.#stopper.stopped) {
      try {
        if (!prepared) {
          await this.deps.store.prepare(this.fn);
          prepared = true;
        }
        const free = this.#capacity - this.#inFlight.size;
        if (free <= 0) {
          await new Promise<void>((resolve) => (this.#slotFreed = resolve));
          this.#slotFreed = undefined;
          continue;
        }
        const deliveries = await this.deps.store.read(this.fn, this.s.name, free, this.s.blockMs);
        failures = 0;
        for (const d of deliveries) this.#take(d);
      } catch (err) {
        failures++;
        this.s.logger?.warn({ err, function: this.fn }, 'queue read failed; retrying');
        await this.#stopper.sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  async #maintenanceLoop(): Promise<void> {
    while (!this.#stopper.stopped) {
      await this.#stopper.sleep(this.s.maintenanceIntervalMs);
      if (this.#stopper.stopped) break;
      try {
        await this.deps.store.promoteDue(this.fn, this.s.clock.now(), 1000);
        const free = this.#capacity - this.#inFlight.size;
        if (free > 0) {
          const { deliveries, cursor } = await this.deps.store.reclaim(this.fn, this.s.name, this.#visibilityMs, free, this.#cursor);
          this.#cursor = cursor;
          for (const d of deliveries) {
            // Our own entry, still running past the visibility timeout: claiming it reset its idle time, nothing more to do.
            if (this.#inFlight.has(d.id)) continue;
            this.s.metrics?.reclaimed.inc({ function: this.fn });
            this.#take(d);
          }
        }
        if (Date.now() - this.#lastPrune > PRUNE_EVERY_MS) {
          this.#lastPrune = Date.now();
          await this.deps.store.pruneConsumers(this.fn, Math.max(PRUNE_IDLE_MS, 2 * this.#visibilityMs));
        }
        if (this.s.metrics) {
          const b = await this.deps.store.backlog(this.fn, this.s.clock.now());
          const labels = { function: this.fn };
          this.s.metrics.pending.set(labels, b.pending);
          this.s.metrics.lag.set(labels, b.lag);
          this.s.metrics.delayed.set(labels, b.delayed);
          this.s.metrics.deadLetterBacklog.set(labels, b.deadLettered);
          this.s.metrics.oldestAgeSeconds.set(labels, b.oldestAgeSeconds);
        }
      } catch (err) {
        this.s.logger?.warn({ err, function: this.fn }, 'queue maintenance failed; retrying');
      }
    }
  }

  /** Runs an entry just read or reclaimed, or, once stopping, hands it straight back. */
  #take(d: Delivery): void {
    this.#track(d, this.#stopper.stopped && this.s.handBackOnStop ? this.#handBack(d) : this.#handle(d));
  }

  #track(d: Delivery, work: Promise<void>): void {
    const p = work
      .catch((err: unknown) => {
        // The entry stays pending and is reclaimed after the visibility timeout: at least once, never lost.
        this.s.logger?.error({ err, function: this.fn, entry: d.id }, 'could not settle an async event; it will be reclaimed');
      })
      .finally(() => {
        if (this.#stopper.stopped && !this.#handedBack.has(d.id)) this.#finishedWhileStopping++;
        this.#inFlight.delete(d.id);
        this.#slotFreed?.();
      });
    this.#inFlight.set(d.id, p);
  }

  /**
   * Gives an entry that never reached an instance back to the group, for
   * another consumer's next reclaim (every maintenance interval) instead of
   * after the visibility timeout. Its record says queued again first, so the
   * next consumer's "running" cannot be overwritten.
   */
  async #handBack(d: Delivery): Promise<void> {
    if (d.event) await this.deps.store.putRecord(this.#record(d.event, 'queued'), this.deps.recordTtlMs, 'unfinished').catch(() => undefined);
    try {
      await this.deps.store.handBack(this.fn, this.s.name, [d.id]);
      this.#handedBack.add(d.id);
    } catch (err) {
      // Still pending under this consumer: reclaimed after the visibility timeout instead.
      this.s.logger?.warn({ err, function: this.fn, entry: d.id }, 'could not hand an event back; it will be reclaimed after its visibility timeout');
    }
  }

  /** Retries a store write while the store is unreachable, up to half the visibility timeout. */
  async #persist<T>(what: string, op: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + Math.max(1000, this.#visibilityMs / 2);
    for (let i = 0; ; i++) {
      try {
        return await op();
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        this.s.logger?.warn({ err, function: this.fn, what }, 'queue write failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** Math.min(i, 6))));
      }
    }
  }

  #record(ev: StoredEvent, status: InvocationStatus, extra: Partial<InvocationRecord> = {}): InvocationRecord {
    return {
      requestId: ev.requestId,
      functionName: this.fn,
      ...(ev.qualifier !== undefined ? { qualifier: ev.qualifier } : {}),
      status,
      attempts: ev.attempts,
      systemErrors: ev.systemErrors,
      enqueuedAt: new Date(ev.enqueuedAt).toISOString(),
      updatedAt: new Date(this.s.clock.now()).toISOString(),
      ...extra,
    };
  }

  async #putRecord(rec: InvocationRecord): Promise<void> {
    await this.#persist('record', () => this.deps.store.putRecord(rec, this.deps.recordTtlMs));
  }

  async #handle(d: Delivery): Promise<void> {
    const ev = d.event;
    if (!ev) {
      await this.#persist('ack', () => this.deps.store.ack(this.fn, d.id));
      return;
    }
    const def = this.#definition;
    const cfg = def?.spec.async ?? DEFAULT_ASYNC;
    const now = this.s.clock.now();
    if (isTooOld(ev.enqueuedAt, now, cfg.maxEventAgeSeconds)) {
      await this.#giveUp(d.id, ev, cfg, 'EventAgeExceeded', undefined, {});
      return;
    }
    if (!def) {
      await this.#giveUp(d.id, ev, cfg, 'RetriesExhausted', undefined, { lastError: `function ${this.fn} not found` });
      return;
    }
    const startedAt = new Date(now).toISOString();
    // A record write is a view for callers; the invocation need not wait for it to be durable. Being
    // unawaited, it can land after the result (resent once Redis is back after a failover): it never
    // replaces a finished record.
    this.deps.store.putRecord(this.#record(ev, 'running', { startedAt }), this.deps.recordTtlMs, 'unfinished').catch(() => undefined);

    // The run is counted in the store when the call is handed to an instance,
    // before it can run, so a gateway killed mid-run leaves the count behind
    // and the next run of the event counts on from it.
    let counted: Promise<number> | undefined;
    const countRun = (): Promise<number> =>
      (counted ??= this.deps.store.countAttempt(ev, this.deps.recordTtlMs).catch((err: unknown) => {
        this.s.logger?.warn({ err, function: this.fn, requestId: ev.requestId }, 'could not count the attempt in the store');
        return ev.attempts + 1;
      }));
    // The wait from acceptance until this consumer took the event (a retry's wait counts from the first acceptance too).
    const wait = startSpan('gateway', 'queue wait', ev.traceparent, {
      kind: SpanKind.CONSUMER,
      startTime: ev.enqueuedAt,
      attributes: { 'messaging.operation.type': 'receive', 'messaging.destination.name': this.fn, 'faas.invocation_id': ev.requestId, 'hearth.attempt': ev.attempts + 1 },
    });
    wait.end();
    let result: InvokeResult;
    try {
      result = await this.opts.invoker.invoke({
        functionName: this.fn,
        ...(ev.qualifier !== undefined ? { qualifier: ev.qualifier } : {}),
        requestId: ev.requestId,
        payload: ev.payload,
        type: 'async',
        ...(ev.traceId !== undefined ? { traceId: ev.traceId } : {}),
        ...(wait.traceparent !== undefined ? { traceparent: wait.traceparent } : {}),
        ...(ev.clientContext !== undefined ? { clientContext: ev.clientContext } : {}),
        signal: this.#abort.signal,
        onDispatch: () => void countRun(),
      });
    } catch (err) {
      // Given up while waiting for an instance because this consumer stops: it never ran.
      if (counted === undefined && this.#abort.signal.aborted) {
        await this.#handBack(d);
        return;
      }
      if (counted !== undefined) {
        if (err instanceof DispatchError && err.notDelivered !== undefined) {
          // Every send was refused before the runtime had it: no run to count.
          await counted;
          await this.deps.store.countAttempt(ev, this.deps.recordTtlMs, -1).catch((e: unknown) => this.s.logger?.warn({ err: e, function: this.fn, requestId: ev.requestId }, 'could not take back the attempt count'));
        } else {
          // Sent to an instance that failed: it may have run, and counts.
          ev.attempts = await counted;
        }
      }
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof DispatchError && err.kind === 'not-found') {
        await this.#giveUp(d.id, ev, cfg, 'RetriesExhausted', undefined, { lastError: message, startedAt });
        return;
      }
      // Throttled, unavailable, or anything unexpected: the function did not run.
      ev.systemErrors++;
      const next = nextStep({ kind: 'system', functionErrors: ev.functionErrors, systemErrors: ev.systemErrors, enqueuedAt: ev.enqueuedAt, now: this.s.clock.now(), maxRetries: cfg.maxRetries, maxEventAgeSeconds: cfg.maxEventAgeSeconds, timeScale: this.s.timeScale });
      if (next.action === 'retry') await this.#retry(d.id, ev, next.dueAt, 'system', { lastError: message, startedAt });
      else await this.#giveUp(d.id, ev, cfg, next.condition, undefined, { lastError: message, startedAt });
      return;
    }

    // An invoker that does not report dispatch (tests' scripted ones) ran it all the same.
    ev.attempts = await countRun();
    const finishedAt = new Date(this.s.clock.now()).toISOString();
    const executedVersion = executedVersionOf(result);
    const functionError = functionErrorOf(result.outcome);
    const resultView = {
      statusCode: 200,
      ...(functionError ? { functionError } : {}),
      ...(result.errorType !== undefined ? { errorType: result.errorType } : {}),
      payload: result.payload.toString('utf8'),
    };
    if (result.outcome === 'success') {
      await this.#deliver(cfg, 'Success', ev, result);
      await this.#putRecord(this.#record(ev, 'succeeded', { startedAt, finishedAt, executedVersion, condition: 'Success', result: resultView }));
      await this.#persist('ack', () => this.deps.store.ack(this.fn, d.id));
      this.s.metrics?.processed.inc({ function: this.fn, outcome: 'succeeded' });
      return;
    }
    ev.functionErrors++;
    const next = nextStep({ kind: 'function', functionErrors: ev.functionErrors, systemErrors: ev.systemErrors, enqueuedAt: ev.enqueuedAt, now: this.s.clock.now(), maxRetries: cfg.maxRetries, maxEventAgeSeconds: cfg.maxEventAgeSeconds, timeScale: this.s.timeScale });
    if (next.action === 'retry') await this.#retry(d.id, ev, next.dueAt, 'function', { startedAt, finishedAt, executedVersion, result: resultView });
    else await this.#giveUp(d.id, ev, cfg, next.condition, result, { startedAt, finishedAt, executedVersion, result: resultView });
  }

  async #retry(id: string, ev: StoredEvent, dueAt: number, kind: 'function' | 'system', extra: Partial<InvocationRecord>): Promise<void> {
    await this.#putRecord(this.#record(ev, 'queued', { ...extra, nextAttemptAt: new Date(dueAt).toISOString() }));
    await this.#persist('retry', () => this.deps.store.retryLater(this.fn, id, ev, dueAt));
    this.s.metrics?.retries.inc({ function: this.fn, kind });
  }

  async #giveUp(id: string, ev: StoredEvent, cfg: AsyncConfig, condition: DeadLetterCondition, last: InvokeResult | undefined, extra: Partial<InvocationRecord>): Promise<void> {
    const now = this.s.clock.now();
    const record = await this.#deliver(cfg, condition, ev, last);
    const status: InvocationStatus = cfg.deadLetterQueue.enabled ? 'dead-lettered' : 'failed';
    await this.#putRecord(this.#record(ev, status, { finishedAt: new Date(now).toISOString(), ...extra, condition }));
    if (cfg.deadLetterQueue.enabled) {
      await this.#persist('dead-letter', () => this.deps.store.deadLetter(this.fn, id, { event: ev, record, deadLetteredAt: now }));
      this.s.metrics?.deadLettered.inc({ function: this.fn, condition });
    } else {
      await this.#persist('ack', () => this.deps.store.ack(this.fn, id));
    }
    this.s.metrics?.processed.inc({ function: this.fn, outcome: status });
  }

  /** Sends the record to the destination for this condition, if any; returns the record either way. */
  async #deliver(cfg: AsyncConfig, condition: RecordCondition, ev: StoredEvent, last: InvokeResult | undefined): Promise<ReturnType<typeof buildDestinationRecord>> {
    const record = buildDestinationRecord({
      requestId: ev.requestId,
      functionArn: this.s.functionArn(this.fn),
      ...(ev.qualifier !== undefined ? { qualifier: ev.qualifier } : {}),
      condition,
      invokeCount: ev.attempts,
      requestPayload: ev.payload,
      ...(last ? { response: { outcome: last.outcome, payload: last.payload, executedVersion: executedVersionOf(last) } } : {}),
      now: this.s.clock.now(),
    });
    const dest = condition === 'Success' ? cfg.onSuccess : cfg.onFailure;
    if (dest) {
      try {
        // The short in-process retries of a delivery shrink with the time scale too, so tests of refusals stay fast.
        await deliverRecord(dest, record, this.deps.sinks, { backoffMs: Math.max(1, Math.round(200 * Math.min(1, this.s.timeScale))) });
      } catch (err) {
        this.s.metrics?.destinationFailures.inc({ function: this.fn, destination: destinationType(dest), condition });
        this.s.logger?.warn({ err, function: this.fn, requestId: ev.requestId }, 'destination delivery failed');
      }
    }
    return record;
  }
}

class QueueConsumer implements Consumer {
  readonly name: string;
  readonly #workers = new Map<string, FunctionWorker>();
  readonly #settings: Settings;
  readonly #unsubscribe: () => void;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly deps: ConsumerDeps,
    readonly opts: ConsumerOptions,
  ) {
    this.name = opts.consumerName ?? newConsumerName();
    this.#settings = {
      name: this.name,
      clock: opts.clock ?? systemClock,
      timeScale: opts.timeScale ?? 1,
      visibilityTimeoutMs: opts.visibilityTimeoutMs ?? defaultVisibilityTimeoutMs,
      maxInFlight: opts.maxInFlightPerFunction ?? 64,
      blockMs: opts.blockMs ?? 1000,
      maintenanceIntervalMs: opts.maintenanceIntervalMs ?? 1000,
      handBackOnStop: opts.handBackOnStop ?? true,
      functionArn: opts.functionArn ?? defaultFunctionArn,
      metrics: opts.metrics,
      logger: opts.logger,
    };
    this.#unsubscribe = opts.catalog.onChange((fn) => this.#sync(fn));
    for (const fn of opts.catalog.list()) this.#sync(fn.metadata.name);
  }

  #sync(fn: string): void {
    if (this.#stopping) return;
    const exists = this.opts.catalog.get(fn) !== undefined;
    const worker = this.#workers.get(fn);
    if (exists && !worker) {
      this.#workers.set(fn, new FunctionWorker(fn, this.deps, this.opts, this.#settings));
    } else if (!exists && worker) {
      // Its events stay in the store; they run again if the function comes back.
      this.#workers.delete(fn);
      void worker.stop();
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#unsubscribe();
      const workers = [...this.#workers.values()];
      const held = workers.reduce((n, w) => n + w.held, 0);
      this.#settings.logger?.info({ consumer: this.name, held }, 'queue consumer stopping: no more reads; events not yet sent to an instance go back to the group now, running ones finish');
      const reports = await Promise.all(workers.map((w) => w.stop()));
      this.#workers.clear();
      await this.deps.store.releaseConsumer(this.name);
      const handedBack = reports.reduce((n, r) => n + r.handedBack, 0);
      const finished = reports.reduce((n, r) => n + r.finished, 0);
      this.#settings.logger?.info({ consumer: this.name, handedBack, finished }, 'queue consumer stopped');
    })();
    return this.#stopping;
  }
}

export function startConsumer(deps: ConsumerDeps, opts: ConsumerOptions): Consumer {
  return new QueueConsumer(deps, opts);
}
