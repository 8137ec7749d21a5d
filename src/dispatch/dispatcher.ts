// Sends each invocation to a warm instance with a free slot, holds callers
// briefly while capacity comes, shares one cold start among the callers that
// wait for it, and throttles beyond reserved concurrency (counted for the
// function as a whole by a ConcurrencyLimiter, in Redis when several gateways
// serve). Metrics of each invocation are recorded here, once.
//
// Each call is resolved first to a serving unit (src/versions/units.ts): the
// version its qualifier names, or the one an alias's weighted draw picks, per
// call. Everything after that (instances, loads, waiting, cold starts,
// metrics) is per unit key, NAME for $LATEST or NAME:N, so versions of one
// function run side by side and scale each on their own; only reserved
// concurrency stays with the function, counted across its versions.
import type { Logger } from 'pino';
import { LIMITS, LATEST, type HearthFunction } from '../api/function.js';
import type { Catalog, FunctionCatalog } from '../api/catalog.js';
import type { InvokeRequest, InvokeResult } from '../agent/invocation.js';
import { exceedsReservedConcurrency, RESERVED_CONCURRENCY_REASON } from '../autoscaler/core.js';
import type { Backend, Instance } from '../backends/backend.js';
import type { InvocationMetrics, InvocationOutcome, UnitSeries } from '../metrics/invocations.js';
import { LocalConcurrencyLimiter, type ConcurrencyLimiter, type Lease } from './concurrency-limiter.js';
import { DispatchError, type Invocation, type Invoker } from './invoker.js';
import { liveCount, neededInstances, pickInstance } from './placement.js';
import { waitTimedOut, withoutServerPaths } from './not-ready.js';
import { redispatchDecision } from './redispatch.js';
import { NotDeliveredError } from '../agent/delivery.js';
import { resolveTarget } from '../versions/routing.js';
import { versionNumbers } from '../versions/snapshot.js';
import { UnitCatalog } from '../versions/unit-catalog.js';
import { unitKey, unitLabels } from '../versions/units.js';
import { functionArn } from '../api/lambda-arn.js';
import { LAMBDA_STREAM_LIMITS, limitStream, type StreamLimits } from '../streaming/stream-limits.js';
import { startSpan, tracing } from '../tracing/spans.js';

export interface DispatcherOptions {
  /** The functions (aliases, published versions, reserved concurrency): what a qualifier resolves against. */
  catalog: FunctionCatalog;
  /**
   * The serving units of those functions, keyed NAME or NAME:N: what each
   * unit runs (the composition root's UnitCatalog, which also drives the
   * backend). Default: one derived here from `catalog`.
   */
  units?: Catalog;
  /** The weighted draw of an alias, uniform in [0, 1) (default Math.random; tests script it). */
  draw?: () => number;
  backend: Backend;
  metrics?: InvocationMetrics;
  logger?: Logger;
  /** Longest a caller waits for a slot before a 429, or a 502 while the code is still being prepared (default: the init timeout plus a second). */
  maxWaitMs?: number;
  /** Cap on invocations running at once through this dispatcher, across functions. */
  maxConcurrentInvocations?: number;
  /**
   * Counts reserved concurrency for the function as a whole: a RedisConcurrencyLimiter
   * when several gateways admit calls (default: this process's own count).
   */
  concurrencyLimiter?: ConcurrencyLimiter;
  region?: string;
  accountId?: string;
  /** What a streamed response may be (default Lambda's: 200 MiB, 6 MiB at full speed then 2 MiB/s). */
  streamLimits?: StreamLimits;
}

type Grant = { instance: Instance } | { initError: InvokeResult };

/** One call resolved to the unit that runs it. */
interface Call {
  inv: Invocation;
  /** The function: its reserved concurrency caps all its versions together. */
  fn: HearthFunction;
  /** The unit's key: NAME for $LATEST, NAME:N for version N. */
  key: string;
  /** The version that runs it, for X-Amz-Executed-Version. */
  version: string;
  /** What the unit runs. */
  unit: HearthFunction;
  /** The unit's metric labels: the function's name and the version. */
  labels: { function: string; version: string };
  /** The unit's invocation series, recorded without label work per call (undefined without metrics). */
  series: UnitSeries | undefined;
  /** The ARN the runtime is told it was invoked as: qualified when the caller qualified. */
  arn: string;
  /** The dispatch span as a traceparent (with tracing off, the invocation's own): the agent's span hangs under it. */
  traceparent?: string;
}

interface Waiter {
  resolve(grant: Grant): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface FunctionLoad {
  inFlight: number;
  perInstance: Map<string, number>;
  waiters: Waiter[];
  /** Failed starts already reported to waiters, so each is reported once. */
  reportedFailures: Set<string>;
}

export const THROTTLE_CONCURRENCY = 'ConcurrentInvocationLimitExceeded';

/** Runs `then` once `busy` settles, or now when nothing is busy (a buffered result keeps its old, synchronous release). */
function afterwards(busy: Promise<unknown> | undefined, then: () => void): void {
  if (busy === undefined) then();
  else void busy.finally(then);
}

const EMPTY: ReadonlySet<string> = new Set();

export class Dispatcher implements Invoker {
  readonly #opts: DispatcherOptions;
  readonly #loads = new Map<string, FunctionLoad>();
  readonly #unsubscribe: () => void;
  readonly #limiter: ConcurrencyLimiter;
  readonly #units: Catalog;
  /** Set when the dispatcher derived its own unit catalog, which it then closes. */
  readonly #ownUnits: UnitCatalog | undefined;
  readonly #draw: () => number;
  /** Each unit's metric series, by unit key: looked up once per call instead of building its labels. */
  readonly #series = new Map<string, UnitSeries>();
  #total = 0;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
    this.#limiter = opts.concurrencyLimiter ?? new LocalConcurrencyLimiter();
    this.#ownUnits = opts.units === undefined ? new UnitCatalog(opts.catalog) : undefined;
    this.#units = opts.units ?? (this.#ownUnits as UnitCatalog);
    this.#draw = opts.draw ?? Math.random;
    this.#unsubscribe = opts.backend.onChange((key) => this.#pump(key));
  }

  /** In-flight plus waiting invocations of a unit (NAME or NAME:N): the concurrency the autoscaler observes. */
  demand(key: string): number {
    const load = this.#loads.get(key);
    return load ? load.inFlight + load.waiters.length : 0;
  }

  /** The function's ARN, qualified (`…:function:NAME:live`) when a qualifier is given. */
  arn(name: string, qualifier?: string): string {
    const base = functionArn(name, this.#opts.region, this.#opts.accountId);
    return qualifier === undefined ? base : `${base}:${qualifier}`;
  }

  async invoke(inv: Invocation): Promise<InvokeResult> {
    const call = this.#resolve(inv);
    // From admission to the instance's answer: reserved concurrency, the wait for a slot (its own span), the send.
    const span = startSpan('gateway', 'dispatch', inv.traceparent, tracing('gateway') ? { attributes: { 'faas.name': call.fn.metadata.name, 'faas.version': call.version, 'faas.invocation_id': inv.requestId, 'hearth.invocation_type': inv.type } } : {});
    if (span.traceparent !== undefined) call.traceparent = span.traceparent;
    let lease: Lease | undefined;
    let busy: Promise<unknown> | undefined;
    try {
      // Uncapped functions skip the limiter altogether, not even a turn of the event loop.
      lease = call.fn.spec.reservedConcurrency === undefined ? undefined : await this.#admit(call);
      const ran = await this.#run(call);
      busy = ran.busy;
      if (ran.result.outcome !== 'success') span.setAttributes({ 'faas.error': ran.result.errorType ?? ran.result.outcome });
      if (ran.result.initDurationMs !== undefined) span.setAttributes({ 'faas.coldstart': true });
      return ran.result;
    } catch (err) {
      span.fail((err as Error).message);
      throw err;
    } finally {
      span.end();
      // A stream still flowing keeps its slot of the function's cap until the function is done.
      const held = lease;
      if (held) afterwards(busy, () => this.#limiter.release(held));
    }
  }

  /**
   * The unit that runs this call: the qualifier resolved against the function
   * and its published versions, an alias's weights by a fresh draw, so a
   * split is decided per call, not per connection. Lambda answers an unknown
   * qualifier, and an alias to a version that is gone, with 404 naming the
   * qualified ARN.
   */
  #resolve(inv: Invocation): Call {
    const name = inv.functionName;
    const qualifier = inv.qualifier;
    const notFound = (): DispatchError => {
      this.#count(inv, { function: name, version: qualifier ?? LATEST }, 'not_found');
      return new DispatchError('not-found', `Function not found: ${this.arn(name, qualifier)}`);
    };
    const fn = this.#opts.catalog.get(name);
    if (!fn) throw notFound();
    // An unqualified call (most of them) needs no set of versions.
    const published = qualifier === undefined || qualifier === LATEST ? EMPTY : versionNumbers(this.#opts.catalog.versions(name));
    const target = resolveTarget(fn, published, qualifier, this.#draw());
    if (!target.ok) throw notFound();
    const key = unitKey(name, target.version);
    const unit = this.#units.get(key);
    if (!unit) throw notFound();
    // $LATEST named outright is still the unqualified function.
    const arn = this.arn(name, qualifier === LATEST ? undefined : qualifier);
    const series = this.#unitSeries(key);
    return { inv, fn, key, version: target.version, unit, labels: series?.labels ?? unitLabels(key), series, arn };
  }

  /**
   * Takes one of the function's reserved-concurrency slots, counted for the
   * function as a whole by the limiter; undefined when the function has no
   * cap (no round trip then). The lease is held while the call waits for an
   * instance and while it runs.
   */
  async #admit(call: Call): Promise<Lease | undefined> {
    const { fn, inv } = call;
    const limit = fn.spec.reservedConcurrency;
    if (limit === undefined) return undefined;
    // A cap of 0 refuses everything without asking anyone.
    if (exceedsReservedConcurrency(fn.spec, 0)) throw this.#throttle(call, RESERVED_CONCURRENCY_REASON);
    let lease: Lease | undefined;
    try {
      // Keyed by the function's name, not the unit's: every version's calls count against one cap, as on Lambda.
      lease = await this.#limiter.tryAcquire(inv.functionName, limit);
    } catch (err) {
      // Fail closed: without the shared count the cap cannot be kept, and a
      // 429 would wrongly tell the caller it is over its cap. A service error
      // (503, retried by SDKs; async events go back to the queue) says what
      // happened.
      this.#count(inv, call.labels, 'unavailable');
      this.#opts.logger?.warn({ err, function: inv.functionName }, 'reserved concurrency cannot be checked; refusing the call');
      throw new DispatchError('service-unavailable', `The reserved concurrency of ${inv.functionName} cannot be checked now (${(err as Error).message}); retry later.`);
    }
    if (!lease) throw this.#throttle(call, RESERVED_CONCURRENCY_REASON);
    return lease;
  }

  async #run(call: Call): Promise<{ result: InvokeResult; busy?: Promise<unknown> }> {
    const load = this.#load(call.key);
    const cap = this.#opts.maxConcurrentInvocations;
    if (cap !== undefined && this.#total >= cap) throw this.#throttle(call, THROTTLE_CONCURRENCY);

    // One wait budget for the whole call: a call sent again after an
    // instance refused it waits no longer than it could have at first.
    const waitUntil = Date.now() + (this.#opts.maxWaitMs ?? (LIMITS.initTimeoutSeconds + 1) * 1000);
    for (let redispatches = 0; ; redispatches++) {
      const outcome = await this.#runOnce(call, load, waitUntil, redispatches);
      if (outcome.done) return outcome;
    }
  }

  /**
   * One send of the call to an instance; `done: false` when it provably never
   * reached the runtime and goes again. `busy`: a streamed result's function
   * is still writing; it holds its instance slot until that settles.
   */
  async #runOnce(call: Call, load: FunctionLoad, waitUntil: number, redispatches: number): Promise<{ done: true; result: InvokeResult; busy?: Promise<unknown> } | { done: false }> {
    const { inv, unit } = call;
    // A free slot now (most warm calls) is taken without a promise and a turn of the microtask queue; #acquire would take it the same way.
    const grant =
      this.#freeSlot(call, load) ??
      (await this.#acquire(call, load, waitUntil, redispatches > 0).catch((err: unknown) => {
        if (err instanceof DispatchError && err.kind === 'unavailable') this.#count(inv, call.labels, 'unavailable');
        throw err;
      }));
    if ('initError' in grant) {
      // Shared by every caller that waited on the start: each gets its own copy to be told its version on.
      const result = { ...grant.initError, executedVersion: call.version };
      this.#record(call, result);
      return { done: true, result };
    }
    const { instance } = grant;
    // The first send is where the call may start to run; a send again follows one that provably did not.
    if (redispatches === 0) inv.onDispatch?.();
    this.#total++;
    if (call.series) call.series.running++;
    let busy: Promise<unknown> | undefined;
    try {
      // Optional fields set one by one, not spread from an object made per field: this runs per call.
      const req: InvokeRequest = { requestId: inv.requestId, payload: inv.payload, timeoutMs: unit.spec.timeoutSeconds * 1000, invokedFunctionArn: call.arn };
      if (inv.traceId !== undefined) req.traceId = inv.traceId;
      if (call.traceparent !== undefined) req.traceparent = call.traceparent;
      if (inv.clientContext !== undefined) req.clientContext = inv.clientContext;
      if (inv.cognitoIdentity !== undefined) req.cognitoIdentity = inv.cognitoIdentity;
      if (inv.tailLogs === true) req.tailLogs = true;
      if (inv.acceptStream === true) req.acceptStream = true;
      const result = await instance.invoke(req);
      result.executedVersion = call.version;
      const source = result.stream;
      if (source !== undefined) {
        const streamed: InvokeResult = { ...result, stream: limitStream(source, this.#opts.streamLimits ?? LAMBDA_STREAM_LIMITS) };
        // Counted once the function is done: its duration and outcome are the stream's.
        busy = source.ended.then((end) => this.#record(call, { ...streamed, durationMs: end.durationMs, ...(end.error !== undefined ? { outcome: 'unhandled' } : {}) }));
        return { done: true, result: streamed, busy };
      }
      this.#record(call, result);
      return { done: true, result };
    } catch (err) {
      const decision = redispatchDecision(err, redispatches);
      if (decision.redispatch) {
        // This gateway stops choosing the instance until its backend drops or replaces it.
        instance.markDraining?.();
        this.#opts.metrics?.redispatches.inc({ ...call.labels, reason: decision.reason });
        this.#opts.logger?.info({ function: call.key, requestId: inv.requestId, instance: instance.id, reason: decision.reason }, 'invocation not delivered; sending it to another instance');
        return { done: false };
      }
      this.#count(inv, call.labels, 'unavailable');
      this.#opts.logger?.error({ err, function: call.key, requestId: inv.requestId }, 'instance failed to answer');
      const failed = new DispatchError('unavailable', `instance ${instance.id} failed: ${withoutServerPaths((err as Error).message)}`);
      if (err instanceof NotDeliveredError) failed.notDelivered = err.reason;
      throw failed;
    } finally {
      // The instance is busy until a stream it is writing ends, and the call counts as running until then.
      afterwards(busy, () => {
        this.#total--;
        if (call.series) call.series.running--;
        this.#release(call.key, instance.id);
      });
    }
  }

  close(): void {
    this.#unsubscribe();
    this.#ownUnits?.close();
    for (const load of this.#loads.values()) {
      for (const w of load.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new DispatchError('unavailable', 'the gateway is shutting down'));
      }
    }
  }

  #load(name: string): FunctionLoad {
    let load = this.#loads.get(name);
    if (!load) {
      load = { inFlight: 0, perInstance: new Map(), waiters: [], reportedFailures: new Set() };
      this.#loads.set(name, load);
    }
    return load;
  }

  #tryTake(name: string, load: FunctionLoad): Instance | undefined {
    const instances = this.#opts.backend.instances(name);
    const id = pickInstance(instances, load.perInstance);
    if (id === undefined) return undefined;
    load.perInstance.set(id, (load.perInstance.get(id) ?? 0) + 1);
    load.inFlight++;
    return instances.find((i) => i.id === id);
  }

  /** A slot on a ready instance when one is free and no caller waits before this one: #acquire's first step, synchronous. */
  #freeSlot(call: Call, load: FunctionLoad): Grant | undefined {
    // FIFO: a newcomer never overtakes callers already waiting. An aborted call goes through #acquire, which rejects it.
    if (call.inv.signal?.aborted === true || load.waiters.length > 0) return undefined;
    const instance = this.#tryTake(call.key, load);
    return instance === undefined ? undefined : { instance };
  }

  /**
   * A slot on a ready instance, waiting for one until `waitUntil`. A call
   * sent again (`again`) was admitted before those waiting now, so it waits
   * at the head of the line.
   */
  async #acquire(call: Call, load: FunctionLoad, waitUntil: number, again = false): Promise<Grant> {
    const { key: name, inv } = call;
    const signal = inv.signal;
    if (signal?.aborted) throw signal.reason as Error;
    const free = this.#freeSlot(call, load);
    if (free !== undefined) return free;
    // No free slot now: waiting for one (and for a cold start, when this call makes the backend start an instance) is a span of its own.
    const wait = tracing('gateway') ? startSpan('gateway', 'slot wait', call.traceparent, { attributes: { 'hearth.unit': name, 'hearth.redispatch': again } }) : undefined;
    const live = wait === undefined ? 0 : liveCount(this.#opts.backend.instances(name));
    const grant = new Promise<Grant>((resolve, reject) => {
      const detach = (): void => signal?.removeEventListener('abort', onAbort);
      const waiter: Waiter = {
        resolve: (g) => {
          detach();
          resolve(g);
        },
        reject: (err) => {
          detach();
          reject(err);
        },
        timer: setTimeout(() => {
          const i = load.waiters.indexOf(waiter);
          if (i >= 0) load.waiters.splice(i, 1);
          waiter.reject(this.#waitTimedOut(call));
        }, Math.max(0, waitUntil - Date.now())),
      };
      // Given up while waiting: the call has not run, so it leaves the line at once.
      const onAbort = (): void => {
        const i = load.waiters.indexOf(waiter);
        if (i < 0) return;
        load.waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        waiter.reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (again) load.waiters.unshift(waiter);
      else load.waiters.push(waiter);
    });
    this.#ensureCapacity(name, call.unit, load);
    this.#pump(name);
    if (wait === undefined) return grant;
    return grant.then(
      (g) => {
        wait.setAttributes({ 'hearth.cold_start': liveCount(this.#opts.backend.instances(name)) > live || 'initError' in g });
        wait.end();
        return g;
      },
      (err: unknown) => {
        wait.fail((err as Error).message);
        wait.end();
        throw err;
      },
    );
  }

  /** Asks the backend for more instances when demand exceeds what exists. Never scales down: that is the autoscaler's call. */
  #ensureCapacity(name: string, fn: HearthFunction, load: FunctionLoad): void {
    const live = liveCount(this.#opts.backend.instances(name));
    const needed = neededInstances({
      demand: load.inFlight + load.waiters.length,
      concurrency: fn.spec.concurrency,
      maxInstances: fn.spec.scaling.maxInstances,
      reservedConcurrency: fn.spec.reservedConcurrency,
    });
    if (needed > live) {
      this.#opts.backend.scale(name, needed).catch((err: unknown) => {
        this.#opts.logger?.error({ err, function: name }, 'scale-up failed');
        // Nothing will come for the callers waiting on this start: tell them now, not at their timeout.
        if (liveCount(this.#opts.backend.instances(name)) > 0) return;
        for (const w of load.waiters.splice(0)) {
          clearTimeout(w.timer);
          // The log above keeps the full message; callers are not shown the server's paths.
          w.reject(new DispatchError('unavailable', `no instance of ${name} could be started: ${withoutServerPaths((err as Error).message)}`));
        }
      });
    }
  }

  #release(name: string, instanceId: string): void {
    const load = this.#loads.get(name);
    if (!load) return;
    const n = (load.perInstance.get(instanceId) ?? 1) - 1;
    if (n <= 0) load.perInstance.delete(instanceId);
    else load.perInstance.set(instanceId, n);
    load.inFlight--;
    this.#pump(name);
  }

  /** Hands free slots to waiting callers, and a failed start's error to those who waited for it. */
  #pump(name: string): void {
    const load = this.#loads.get(name);
    if (!load || load.waiters.length === 0) return;
    while (load.waiters.length > 0) {
      const instance = this.#tryTake(name, load);
      if (!instance) break;
      const w = load.waiters.shift() as Waiter;
      clearTimeout(w.timer);
      w.resolve({ instance });
    }
    if (load.waiters.length === 0) return;
    const instances = this.#opts.backend.instances(name);
    const failed = instances.find((i) => i.state === 'failed' && i.initError && !load.reportedFailures.has(i.id));
    if (failed?.initError && liveCount(instances) === 0) {
      // Lambda returns an init failure to the invocation that caused the start;
      // here every caller waiting on that start shares it.
      load.reportedFailures.add(failed.id);
      for (const w of load.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve({ initError: failed.initError });
      }
      return;
    }
    const unit = this.#units.get(name);
    if (unit) this.#ensureCapacity(name, unit, load);
  }

  /** A wait that ran out: a throttle when ready instances are all busy, not ready when the code is still being prepared. */
  #waitTimedOut(call: Call): DispatchError {
    const backend = this.#opts.backend;
    const name = call.key;
    const verdict = waitTimedOut({ functionName: name, preparing: backend.preparingStep?.(name), ready: backend.instances(name).filter((i) => i.state === 'ready').length });
    if (verdict.kind === 'throttled') return this.#throttle(call, THROTTLE_CONCURRENCY);
    return new DispatchError('unavailable', verdict.message);
  }

  #throttle(call: Call, reason: string): DispatchError {
    this.#count(call.inv, call.labels, 'throttled');
    this.#opts.metrics?.throttles.inc({ ...call.labels, reason });
    return new DispatchError('throttled', 'Rate Exceeded.', reason);
  }

  #count(inv: Invocation, labels: { function: string; version: string }, outcome: InvocationOutcome): void {
    this.#opts.metrics?.invocations.inc({ ...labels, type: inv.type, outcome });
  }

  #record(call: Call, result: InvokeResult): void {
    const m = this.#opts.metrics;
    if (!m || !call.series) return;
    const { inv, labels, unit: fn } = call;
    call.series.record(inv.type, result.outcome, result.durationMs, fn.spec.memoryMB);
    if (result.initDurationMs !== undefined) {
      m.coldStarts.inc(labels);
      m.initDuration.observe(labels, result.initDurationMs / 1000);
    }
  }

  #unitSeries(key: string): UnitSeries | undefined {
    const m = this.#opts.metrics;
    if (!m) return undefined;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = m.unit(unitLabels(key));
      this.#series.set(key, series);
    }
    return series;
  }

}
