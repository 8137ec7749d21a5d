// The event-source mappings one gateway runs: `set` takes the desired
// mappings (from files, or the Kubernetes API) and starts, restarts or stops
// their connectors to match; each connector hands its partitions to
// PartitionProcessors made here, which invoke the function through the
// platform's Invoker and send failures through FailureSenders. The runner
// keeps each mapping's status (Lambda's state and lastProcessingResult, lag
// per partition) and gives the lag to the autoscaler, as the queue's backlog.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { LATEST } from '../api/function.js';
import type { EventSourceMapping, EventSourceMappingStatus, MappingState } from '../api/event-source-mapping.js';
import type { ConcurrencyLimiter } from '../dispatch/concurrency-limiter.js';
import type { Invoker } from '../dispatch/invoker.js';
import type { SourceMetrics } from '../metrics/sources.js';
import type { Queue } from '../queue/queue.js';
import { unitKey } from '../versions/units.js';
import { batchPayload } from './batch-event.js';
import { batchPolicy } from './batch-plan.js';
import type { Connector, PartitionLag } from './connector.js';
import { FailureSenders, describeTarget, type KafkaProducer } from './failure-senders.js';
import { failureRecord, kafkaDestinationMessages } from './failure-record.js';
import { compileFilters, filterProblems } from './filter-pattern.js';
import { parseOnFailure, type OnFailureTarget } from './on-failure-destination.js';
import { Semaphore, SharedSlots, mappingSlotsKey, type BatchSlots } from './concurrency-slots.js';
import { PartitionProcessor, type FailedBatch } from './partition-processor.js';
import { DEFAULT_DRAIN_MS } from './drain.js';
import { redisStreamsEventSourceArn } from './redis-streams-event.js';
import type { KafkaRecord } from './records.js';
import type { Redis } from 'ioredis';

/** What a connector factory makes: a Connector, with the extras some have (Redis: its client; Kafka: a producer; both: kill for tests). */
export type MappingConnector = Connector & { client?(): Redis | undefined; produce?: KafkaProducer['produce']; kill?(): void };

export interface EventSourcesOptions {
  invoker: Invoker;
  /** Function destinations are enqueued here. */
  queue: Pick<Queue, 'enqueue'>;
  /** Makes the connector of a mapping (Kafka, Redis Streams); throws when it cannot (the message becomes the mapping's problem). */
  connectorFor(mapping: EventSourceMapping, logger: Logger): MappingConnector;
  /** Whether the function exists (a mapping to a missing one shows PROBLEM). */
  functionExists?(name: string): boolean;
  functionArn(name: string, qualifier?: string): string;
  /** A Redis for redis-stream:// destinations of mappings whose source is not Redis (the platform's, when it has one). */
  platformRedis?: () => Redis | undefined;
  metrics?: SourceMetrics;
  logger: Logger;
  /**
   * Counts scalingConfig.maximumConcurrency for every gateway that shares it (the platform's Redis limiter): a mapping's
   * partitions are polled on several gateways, its bound is the mapping's. Without it each mapping counts on this gateway alone.
   */
  limiter?: ConcurrencyLimiter;
  /**
   * How long a mapping that stops (disabled, changed, deleted; stop() given no drain of its own) lets its batches in flight
   * finish and commit before they are aborted (drain.ts; default 30 s). 0: aborted at once.
   */
  drainMs?: number;
  /** How often lag is read from the sources (default 1 s). */
  lagIntervalMs?: number;
  /** Test hooks: retry delays, the clock. */
  retryDelayMs?: (attempt: number) => number;
  now?: () => number;
}

export interface MappingStatusView extends EventSourceMappingStatus {
  uuid: string;
  state: MappingState;
  lastProcessingResult: string;
  lastModified: string;
  lag: PartitionLag;
  totalLag: number;
}

/** A mapping's key: NAMESPACE/NAME. */
export function mappingKey(m: Pick<EventSourceMapping, 'metadata'>): string {
  return `${m.metadata.namespace ?? 'default'}/${m.metadata.name}`;
}

/** The mapping's UUID in Lambda's API: derived from namespace and name (a name-based UUID, version 5 layout), so every gateway and restart agrees. */
export function mappingUuid(m: Pick<EventSourceMapping, 'metadata'>): string {
  const h = createHash('sha1').update(`hearth.dev/EventSourceMapping/${mappingKey(m)}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The serving unit a mapping's lag counts for: a version's own unit, else the function's $LATEST (an alias is drawn per call, as the queue's backlog). */
export function mappingUnit(m: EventSourceMapping): string {
  const q = m.spec.qualifier;
  return q !== undefined && /^[0-9]+$/.test(q) ? unitKey(m.spec.functionName, q) : unitKey(m.spec.functionName, LATEST);
}

/** Where a mapping's events say they come from: Kafka's brokers and topic (Lambda's self-managed Kafka event carries none), or the Redis server. */
export function eventSourceArn(m: EventSourceMapping): string {
  if (m.spec.kafka) return `kafka://${m.spec.kafka.bootstrapServers.join(',')}/${m.spec.kafka.topics.join(',')}`;
  return redisStreamsEventSourceArn(m.spec.redisStreams?.url);
}

/** Problems that keep a mapping from starting at all (its spec parses, but parts of it cannot be used). */
export function mappingProblems(m: EventSourceMapping): string[] {
  const out = filterProblems(m.spec.filterCriteria).map((p) => `filterCriteria: ${p}`);
  const dest = m.spec.destinationConfig?.onFailure?.destination;
  if (dest !== undefined) {
    const parsed = parseOnFailure(dest);
    if (!parsed.ok) out.push(`destinationConfig.onFailure.destination: ${parsed.message}`);
    else if (parsed.target.kind === 'kafka-topic' && !m.spec.kafka) out.push('destinationConfig.onFailure.destination: kafka:// needs a Kafka source (a topic of its cluster)');
  }
  return out;
}

interface Running {
  mapping: EventSourceMapping;
  specJson: string;
  lastModified: string;
  connector?: MappingConnector;
  /** Why it does not run (config problems), or what went wrong last while running. */
  configProblems: string[];
  lastResult: string;
  /** Set while lastResult is a problem reaching the source: the result before it, given back once the source answers again. */
  beforeSourceProblem?: string;
  lag: PartitionLag;
  processors: Map<string, PartitionProcessor>;
  /** Set once this spec is no longer wanted: a start still queued behind the previous spec's stop is skipped. */
  cancelled: boolean;
  /** Starts the connector (made by #prepare with its sinks); absent when the mapping does not run (disabled, problems). */
  start?: () => Promise<void>;
  /** The connector's start has ended (joined, or failed and retrying on its own): its lag can be read. */
  started: boolean;
}

export class EventSources {
  readonly #o: EventSourcesOptions;
  readonly #running = new Map<string, Running>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Per mapping, the end of its queued starts and stops: one mapping's change waits for that mapping's earlier ones, never for another's (a source that is slow to answer holds up only its own mapping). */
  readonly #tails = new Map<string, Promise<void>>();

  constructor(opts: EventSourcesOptions) {
    this.#o = opts;
    this.#timer = setInterval(() => void this.refreshLag(), opts.lagIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /**
   * Brings the running mappings in line with these: new ones start, changed ones restart, vanished or disabled ones stop (keeping
   * their position; their batches in flight finish first: drainMs). What runs, and so the status, changes at once; the connectors' stops and starts follow in order per mapping.
   * The promise ends when this call's stops and starts have.
   */
  set(mappings: readonly EventSourceMapping[]): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const next = new Map(mappings.map((m) => [mappingKey(m), m]));
    const work: Array<Promise<void>> = [];
    for (const [key, r] of this.#running) {
      const m = next.get(key);
      if (!m || JSON.stringify(m.spec) !== r.specJson) {
        this.#running.delete(key);
        r.cancelled = true;
        work.push(this.#inTurn(key, () => this.#stopOne(key, r, this.#o.drainMs ?? DEFAULT_DRAIN_MS)));
      }
    }
    for (const [key, m] of next) {
      if (this.#running.has(key)) continue;
      const r = this.#prepare(key, m);
      this.#running.set(key, r);
      work.push(this.#inTurn(key, () => this.#startOne(key, r)));
    }
    return Promise.all(work).then(() => undefined);
  }

  /** Runs `work` after the mapping's queued starts and stops. */
  #inTurn(key: string, work: () => Promise<void>): Promise<void> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(work);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  /** The mappings and their status, for the status routes and writers. */
  list(): Array<{ mapping: EventSourceMapping; status: MappingStatusView }> {
    return [...this.#running.entries()].map(([key, r]) => ({ mapping: r.mapping, status: this.status(key) as MappingStatusView }));
  }

  status(key: string): MappingStatusView | undefined {
    const r = this.#running.get(key);
    if (!r) return undefined;
    const enabled = r.mapping.spec.enabled && r.configProblems.length === 0;
    let result = r.lastResult;
    if (r.configProblems.length > 0) result = `PROBLEM: ${r.configProblems.join('; ')}`;
    else if (this.#o.functionExists && !this.#o.functionExists(r.mapping.spec.functionName)) result = `PROBLEM: Function not found: ${r.mapping.spec.functionName}`;
    return {
      uuid: mappingUuid(r.mapping),
      state: enabled ? 'Enabled' : 'Disabled',
      lastProcessingResult: result,
      lastModified: r.lastModified,
      lag: r.lag,
      totalLag: r.lag.reduce((s, p) => s + p.lag, 0),
    };
  }

  /** Records behind, for the autoscaler: the sum over the mappings whose unit is this one. */
  backlog(unit: string): number {
    let n = 0;
    for (const r of this.#running.values()) if (mappingUnit(r.mapping) === unit) n += r.lag.reduce((s, p) => s + p.lag, 0);
    return n;
  }

  /** Records behind over every mapping of a function. */
  lag(functionName: string): number {
    let n = 0;
    for (const r of this.#running.values()) if (r.mapping.spec.functionName === functionName) n += r.lag.reduce((s, p) => s + p.lag, 0);
    return n;
  }

  async refreshLag(): Promise<void> {
    await Promise.all(
      [...this.#running.entries()].map(async ([key, r]) => {
        if (!r.connector || !r.started) return;
        try {
          r.lag = await r.connector.lag();
          // The source answered with its partitions: a problem reaching it is over.
          if (r.beforeSourceProblem !== undefined && r.lag.length > 0) {
            r.lastResult = r.beforeSourceProblem;
            r.beforeSourceProblem = undefined;
          }
          for (const p of r.lag) this.#o.metrics?.lag.set({ mapping: key, partition: p.partition }, p.lag);
        } catch {
          // The connector reports its own problems; keep the last figures.
        }
      }),
    );
  }

  /**
   * Stops every mapping gracefully: their connectors stop fetching and starting batches, and the batches in flight finish and
   * commit, for up to drainMs (default EventSourcesOptions.drainMs); what still runs then is aborted (it runs again on the
   * partitions' next owners). A gateway's shutdown gives the time left to its drain deadline.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    const drainMs = opts.drainMs ?? this.#o.drainMs ?? DEFAULT_DRAIN_MS;
    this.#stopped = true;
    clearInterval(this.#timer);
    const all = [...this.#running.entries()];
    this.#running.clear();
    for (const [, r] of all) r.cancelled = true;
    await Promise.all([...all.map(([key, r]) => this.#inTurn(key, () => this.#stopOne(key, r, drainMs))), ...this.#tails.values()]);
  }

  /** Goes away as a crashed gateway would: connectors killed without acknowledging or releasing anything (tests). */
  kill(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const r of this.#running.values()) {
      r.cancelled = true;
      r.connector?.kill?.();
    }
    this.#running.clear();
  }

  /** The mapping's running entry, its problems and its connector (made, not started: no I/O yet). */
  #prepare(key: string, m: EventSourceMapping): Running {
    const logger = this.#o.logger.child({ component: 'event-sources', mapping: key, function: m.spec.functionName });
    const r: Running = {
      mapping: m,
      specJson: JSON.stringify(m.spec),
      lastModified: new Date().toISOString(),
      configProblems: mappingProblems(m),
      lastResult: 'No records processed',
      lag: [],
      processors: new Map(),
      cancelled: false,
      started: false,
    };
    for (const p of r.configProblems) logger.error({ problem: p }, `event-source mapping ${key} not started: ${p}`);
    if (r.configProblems.length > 0 || !m.spec.enabled) return r;
    let connector: MappingConnector;
    try {
      connector = this.#o.connectorFor(m, logger);
    } catch (err) {
      r.configProblems.push(err instanceof Error ? err.message : String(err));
      logger.error({ err }, `event-source mapping ${key} not started: ${String(err)}`);
      return r;
    }
    r.connector = connector;
    const setProblem = (message: string): void => {
      r.lastResult = `PROBLEM: ${message}`;
      r.beforeSourceProblem = undefined;
    };
    const onFailure = m.spec.destinationConfig?.onFailure?.destination;
    const target: OnFailureTarget | undefined = onFailure !== undefined ? (parseOnFailure(onFailure) as { ok: true; target: OnFailureTarget }).target : undefined;
    const senders = new FailureSenders({
      queue: this.#o.queue,
      redis: () => connector.client?.() ?? this.#o.platformRedis?.(),
      kafka: () => (connector.produce ? { produce: (t, v, k) => (connector.produce as KafkaProducer['produce'])(t, v, k) } : undefined),
      logger,
    });
    const filter = compileFilters(m.spec.filterCriteria);
    const policy = batchPolicy(m.spec);
    const max = m.spec.scalingConfig?.maximumConcurrency;
    const slots: BatchSlots | undefined = max === undefined ? undefined : this.#o.limiter ? new SharedSlots(this.#o.limiter, mappingSlotsKey(key), max, { logger }) : new Semaphore(max);
    const arn = eventSourceArn(m);
    const bootstrapServers = m.spec.kafka?.bootstrapServers;
    const ctx = { eventSourceArn: arn, ...(bootstrapServers ? { bootstrapServers } : {}) };
    const functionArn = this.#o.functionArn(m.spec.functionName, m.spec.qualifier);
    const metrics = this.#o.metrics;
    const labels = { mapping: key, function: m.spec.functionName };
    const now = this.#o.now ?? Date.now;

    const sendFailure = async (batch: FailedBatch, signal: AbortSignal): Promise<void> => {
      metrics?.failed.inc({ ...labels, condition: batch.condition }, batch.records.length);
      // What Lambda's failure record and its per-record Kafka-topic messages are both made from.
      const common = {
        condition: batch.condition,
        ...(batch.last ? { last: batch.last } : {}),
        functionArn,
        requestId: batch.requestId,
        approximateInvokeCount: batch.approximateInvokeCount,
        nowMs: now(),
        ...(bootstrapServers ? { bootstrapServers } : {}),
      };
      if (!target) {
        logger.warn({ condition: batch.condition, records: batch.records.length }, 'a batch could not be processed and the mapping has no onFailure destination: its records are skipped');
        return;
      }
      if (target.kind === 'kafka-topic') {
        // Lambda writes a Kafka-topic destination one message per failed record, keyed as the record was (mappingProblems allows kafka:// for Kafka sources only).
        const messages = kafkaDestinationMessages({ ...common, records: batch.records.filter((x): x is KafkaRecord => x.source === 'kafka') });
        await senders.sendKafkaMessages(target, messages, signal, setProblem);
      } else {
        const record = failureRecord({ ...common, records: batch.records, ...(bootstrapServers ? {} : { eventSourceArn: arn }), payloadSize: batch.payloadSize });
        await senders.send(target, record, signal, setProblem);
      }
      logger.warn({ condition: batch.condition, records: batch.records.length, destination: describeTarget(target) }, 'a batch could not be processed: sent to onFailure');
    };

    r.start = () =>
      connector
      .start({
        sinkFor: (partition, commit) => {
          const p = new PartitionProcessor({
            functionName: m.spec.functionName,
            ...(m.spec.qualifier !== undefined ? { qualifier: m.spec.qualifier } : {}),
            invoker: this.#o.invoker,
            policy,
            filter,
            payload: (records) => batchPayload(records, ctx),
            sendFailure,
            commit,
            ...(slots ? { slots } : {}),
            ...(this.#o.retryDelayMs ? { delayMs: this.#o.retryDelayMs } : {}),
            now,
            observer: {
              filtered: (n) => metrics?.filtered.inc(labels, n),
              invoked: (size, result, durationMs) => {
                metrics?.batchDuration.observe(labels, durationMs / 1000);
                if (result.kind === 'platform') setProblem(`Function call failed: ${result.error}`);
                else if (result.result.outcome !== 'success') setProblem(`Function call failed: ${result.result.errorType ?? result.result.outcome}`);
                else {
                  r.lastResult = 'OK';
                  r.beforeSourceProblem = undefined;
                }
                void size;
              },
              batch: (outcome, size) => {
                metrics?.batches.inc({ ...labels, outcome });
                if (outcome === 'success') metrics?.processed.inc(labels, size);
              },
            },
          });
          r.processors.set(partition, p);
          return p;
        },
        released: (partition) => {
          r.processors.delete(partition);
        },
        problem: (message) => {
          const before = r.beforeSourceProblem ?? r.lastResult;
          setProblem(message);
          r.beforeSourceProblem = before;
        },
      })
      .catch((err: unknown) => {
        setProblem(err instanceof Error ? err.message : String(err));
        logger.error({ err }, `event-source mapping ${key}: the connector did not start`);
      })
      .then(() => logger.info({ source: m.spec.kafka ? 'kafka' : 'redis-streams' }, `event-source mapping ${key} started`));
    return r;
  }

  /** Starts the prepared connector, unless the spec was replaced or removed while its turn came. */
  async #startOne(key: string, r: Running): Promise<void> {
    if (r.cancelled || !r.start) return;
    await r.start();
    r.started = true;
  }

  /** Stops the connector (its start, earlier in the mapping's turn, has ended), its batches in flight let finish for up to drainMs, and forgets the lag it reported. */
  async #stopOne(key: string, r: Running, drainMs: number): Promise<void> {
    if (!r.started) return;
    await r.connector?.stop({ drainMs }).catch((err: unknown) => this.#o.logger.warn({ err, mapping: key }, 'stopping an event-source mapping failed'));
    for (const p of r.lag) this.#o.metrics?.lag.remove({ mapping: key, partition: p.partition });
  }
}
