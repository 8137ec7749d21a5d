// The Kafka connector of an event-source mapping (kafkajs). The gateways
// running a mapping join its consumer group; the broker's rebalances share
// the topic's partitions between them. Each assigned partition has its own
// serial reader here: kafkajs's fetch loop only appends fetched records to
// the partition's queue (and pauses the partition when the queue is full),
// and the reader hands them in order to the partition's sink, one call at a
// time, gathering up to batchSize records for at most
// maximumBatchingWindowInSeconds. So a slow function never holds the fetch
// loop, kafkajs goes on heartbeating while a long batch runs, and a busy
// partition does not stall the others (kafkajs alone waits for every
// partition's batch of a fetch before fetching again).
//
// Offsets are committed only through the positions the sink reports done
// (offset + 1, Kafka's "next to read"); the fetch position runs ahead of them
// and is never committed. kafkajs speaks the eager rebalance protocol: at a
// rebalance every partition is given up, so every reader is aborted (its
// sink's signal) and released, and whoever gets a partition next reads it
// again from its last commit (at-least-once). A transactional producer leaves
// offsets with no record (commit markers, aborted records); once every record
// fetched is done the commit goes past them, so a partition whose last
// offsets are markers still reaches lag 0.
//
// A graceful stop (stop({ drainMs })) drains first: fetching pauses, no
// reader starts a batch, each partition's batch in flight finishes and is
// committed while the consumer stays in the group (heartbeating); then, or at
// the drain's end (aborting what still runs), it leaves the group.
import type { Logger } from 'pino';
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import { defaultConsumerGroup, type EventSourceMapping } from '../../api/event-source-mapping.js';
import type { Connector, ConnectorHandlers, PartitionLag, PartitionSink } from '../connector.js';
import type { KafkaRecord } from '../records.js';
import { sleep } from '../abortable-wait.js';

export interface KafkaCredentials {
  /** SASL, with the user name and password read from the mapping's Secrets. */
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** The CA's PEM, from the mapping's Secret; without it the system's CAs. TLS itself is on when the mapping's kafka.tls is set and enabled. */
  tls?: { ca?: string };
}

/**
 * The group session: how long a gateway that died keeps its partitions. Kafka waits for it before the rebalance that hands them on
 * completes, and that rebalance holds up every member's partitions, so it is how long a crash pauses the mapping. 10 s (the Java
 * consumer's default before Kafka 3.0; brokers accept 6 s and up) with a heartbeat every second, which runs while batches do.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

export interface KafkaConnectorOptions {
  clientId: string;
  credentials: KafkaCredentials;
  logger?: Logger;
  /** The group session: a member that stops heartbeating this long loses its partitions (default DEFAULT_SESSION_TIMEOUT_MS, 10 s). */
  sessionTimeoutMs?: number;
  /** How long a fetch waits on the broker for records, and so how soon a stop or a batching window is noticed (default 500 ms). */
  maxWaitTimeMs?: number;
  /** Backoff before connecting again after the connection failed or the consumer crashed (default 2 s, doubling to 30 s). */
  reconnectDelayMs?: number;
  /** Records a partition may hold fetched before its fetching pauses (default queueLimit's; tests make it small to pause often). */
  maxQueuedRecords?: number;
}

export interface KafkaConnector extends Connector {
  /** Writes one record (with a key, or none) to a topic of the mapping's cluster (onFailure kafka:// destinations): resolves once every in-sync replica has it. */
  produce(topic: string, value: Buffer, key?: Buffer | null): Promise<void>;
  /**
   * Goes away at once, as a crashed gateway would as far as the sinks see: every in-flight batch aborted, nothing more committed.
   * The consumer is disconnected in the background; kafkajs cannot drop its connections without leaving the group, so the
   * partitions move to the other members at once rather than after the session (tests; the runner's kill).
   */
  kill(): void;
}

/**
 * How much one partition may hold fetched and not yet handed on before its
 * fetching pauses: two batches, and enough (a few fetches of up to 1 MiB) that
 * the reader still has work while kafkajs's fetch loop, with every partition
 * paused, sleeps out its wait before it looks again.
 */
export function queueLimit(batchSize: number): { records: number; bytes: number } {
  return { records: Math.max(2 * batchSize, 10_000), bytes: 4 * 1024 * 1024 };
}

/** What a queued record counts for against the byte limit (its key, value and headers, and some bookkeeping). */
function recordBytes(r: KafkaRecord): number {
  let n = 64 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) n += h.key.length + h.value.length;
  return n;
}

/**
 * The offset to commit once every record through `position` is done: the
 * next one to read. When that record is the last one fetched so far, the
 * commit goes on to the end of what was fetched (`fetchedEnd`), past offsets
 * that hold no record for us (a transaction's commit marker, aborted records).
 */
export function commitOffsetFor(position: string, lastRecord: string | undefined, fetchedEnd: bigint | undefined): string {
  const next = BigInt(position) + 1n;
  if (lastRecord !== undefined && position === lastRecord && fetchedEnd !== undefined && fetchedEnd > next) return fetchedEnd.toString();
  return next.toString();
}

/**
 * Records behind in one partition: from the group's commit, or, when the
 * group has none yet, from where it will start (the starting position
 * resolved when the connector started, else the oldest record for
 * TRIM_HORIZON and AT_TIMESTAMP, nothing for LATEST), to the end.
 */
export function partitionLag(p: { low: string; high: string; committed: string; initial?: string; startingPosition: EventSourceMapping['spec']['startingPosition'] }): number {
  const high = BigInt(p.high);
  let from: bigint;
  if (BigInt(p.committed) >= 0n) from = BigInt(p.committed);
  else if (p.initial !== undefined) from = BigInt(p.initial);
  else from = p.startingPosition === 'LATEST' ? high : BigInt(p.low);
  if (from < BigInt(p.low)) from = BigInt(p.low);
  const lag = high - from;
  return lag > 0n ? Number(lag) : 0;
}

/** What a kafkajs error means for the mapping's lastProcessingResult: PROBLEM: … */
export function describeKafkaError(err: unknown, ctx: { topic: string; bootstrap: string }): string {
  const e = err as { name?: string; type?: string; message?: string; cause?: unknown } | undefined;
  // kafkajs wraps what its retries gave up on (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError): the innermost error says what went wrong.
  let root = e;
  for (let i = 0; i < 5 && root?.cause !== undefined && typeof root.cause === 'object'; i++) root = root.cause as typeof e;
  const message = e?.message ?? String(err);
  const type = e?.type ?? root?.type ?? '';
  const name = root?.name === 'KafkaJSSASLAuthenticationError' ? root.name : (e?.name ?? '');
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || /does not host this topic-partition|unknown topic/i.test(message)) return `Kafka topic ${ctx.topic} does not exist on ${ctx.bootstrap}`;
  if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED' || /SASL .*authentication failed/i.test(message)) return `Kafka refused the credentials (SASL): ${message}`;
  if (type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'GROUP_AUTHORIZATION_FAILED' || type === 'CLUSTER_AUTHORIZATION_FAILED') return `Kafka refused access (${type}): ${message}`;
  if (name === 'KafkaJSConnectionError' || name === 'KafkaJSNonRetriableError' || name === 'KafkaJSNumberOfRetriesExceeded' || /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|Connection timeout|Closed connection/i.test(message)) {
    const cause = e?.cause as { message?: string } | undefined;
    return `cannot reach Kafka at ${ctx.bootstrap}: ${message}${cause?.message && cause.message !== message ? ` (${cause.message})` : ''}`;
  }
  return `Kafka (${ctx.bootstrap}): ${message}`;
}

/** Errors after which this member no longer holds its partitions (the group rebalanced, or forgot it). */
/**
 * How long to wait before committing again after a commit the broker refused, or undefined to give up (the partition is then read
 * again from its last commit, which runs its records twice). Worth a few tries: a coordinator that is loading or moved (common on a
 * fresh broker, or after a broker restart) takes the commit a moment later; a group that moved on (a rebalance) does not, as the
 * partition may be another member's now. Pure.
 */
export function commitRetryDelayMs(err: unknown, attempt: number): number | undefined {
  const e = err as { type?: string; retriable?: boolean } | undefined;
  if (attempt >= 3 || e?.retriable !== true) return undefined;
  if (e.type === 'REBALANCE_IN_PROGRESS' || e.type === 'ILLEGAL_GENERATION' || e.type === 'UNKNOWN_MEMBER_ID') return undefined;
  return 200 * 2 ** attempt;
}

function groupMovedOn(err: unknown): boolean {
  const type = (err as { type?: string } | undefined)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID' || type === 'NOT_COORDINATOR_FOR_GROUP';
}

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  // The batch's timestamp type is not in kafkajs's types, but its decoder keeps it beside each record (1: LOG_APPEND_TIME).
  const ctx = (m as { batchContext?: { timestampType?: number } }).batchContext;
  const headers: KafkaRecord['headers'] = [];
  // kafkajs gathers headers by key (a repeated key becomes an array), so keys come in first-seen order.
  for (const [key, v] of Object.entries(m.headers ?? {})) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) headers.push({ key, value: Buffer.isBuffer(x) ? x : Buffer.from(x) });
  }
  return {
    source: 'kafka',
    topic,
    partition,
    offset: m.offset,
    timestampMs: Number(m.timestamp),
    timestampType: ctx?.timestampType === 1 ? 'LOG_APPEND_TIME' : 'CREATE_TIME',
    key: m.key,
    value: m.value,
    headers,
  };
}

/** Waits `ms`, or less: it ends (without throwing) as soon as the signal aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}

function kafkaLogCreator(logger: Logger | undefined) {
  return () =>
    ({ level, log }: LogEntry): void => {
      if (!logger) return;
      const { message, ...rest } = log;
      const fields = { kafkajs: log.namespace ?? (rest as { namespace?: string }).namespace, ...rest };
      // kafkajs logs retriable trouble (a coordinator not elected yet, a rebalance) as errors and retries: warnings here; problems reach the mapping through handlers.problem.
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.warn(fields, `kafkajs: ${message}`);
      else if (level === logLevel.INFO) logger.debug(fields, `kafkajs: ${message}`);
      else logger.trace(fields, `kafkajs: ${message}`);
    };
}

/** One assigned partition's reader: its queue of fetched records and the loop that feeds them to the sink. */
interface PartitionReader {
  key: string;
  partition: number;
  generation: number;
  sink: PartitionSink;
  abort: AbortController;
  queue: KafkaRecord[];
  /** What the queue holds, by recordBytes. */
  queuedBytes: number;
  /** When the oldest queued record was queued (the batching window runs from it). */
  firstQueuedAt: number;
  /** Offset of the last record fetched, and the end of the fetched range (last offset fetched + 1, markers included). */
  lastRecord?: string;
  fetchedEnd?: bigint;
  /** The next offset to read as last committed (undefined until this reader commits). */
  committed?: string;
  /** The first record this reader was given: where to read again from when it could not finish and committed nothing. */
  firstOffset?: string;
  paused: boolean;
  busy: boolean;
  wake: () => void;
  done: Promise<void>;
}

export function kafkaConnector(mapping: EventSourceMapping, opts: KafkaConnectorOptions): KafkaConnector {
  const source = mapping.spec.kafka;
  if (!source) throw new Error('kafkaConnector: the mapping has no kafka source');
  const topic = source.topics[0] as string;
  const groupId = source.consumerGroupId ?? defaultConsumerGroup(mapping);
  const bootstrap = source.bootstrapServers.join(',');
  const batchSize = mapping.spec.batchSize;
  const windowMs = mapping.spec.maximumBatchingWindowInSeconds * 1000;
  const startingPosition = mapping.spec.startingPosition;
  const logger = opts.logger?.child({ topic, group: groupId });
  const maxWaitTimeMs = opts.maxWaitTimeMs ?? 500;
  const reconnectBase = opts.reconnectDelayMs ?? 2000;
  const limit = { ...queueLimit(batchSize), ...(opts.maxQueuedRecords !== undefined ? { records: opts.maxQueuedRecords } : {}) };

  const tlsOn = source.tls !== undefined && source.tls.enabled !== false;
  const sasl: SASLOptions | undefined = opts.credentials.sasl ? { ...opts.credentials.sasl } : undefined;
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: source.bootstrapServers,
    ssl: tlsOn ? (opts.credentials.tls?.ca !== undefined ? { ca: [opts.credentials.tls.ca] } : true) : false,
    ...(sasl ? { sasl } : {}),
    connectionTimeout: 3000,
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(logger),
  });

  let handlers: ConnectorHandlers | undefined;
  let consumer: Consumer | undefined;
  let admin: Admin | undefined;
  let adminReady: Promise<Admin> | undefined;
  let producer: Promise<Producer> | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  /** Set when a graceful stop begins: nothing more is queued or handed to a sink; batches in flight finish. */
  let draining = false;
  let generation = 0;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** Where a partition without a commit starts, resolved when the connector started (LATEST: the end then; AT_TIMESTAMP: the first record at or after the time). */
  const initial = new Map<number, string>();
  const readers = new Map<number, PartitionReader>();
  /** Partitions being read again from their last commit: batches fetched for them before the pause are dropped, not queued. */
  const restarting = new Set<number>();
  let startsResolved = false;

  const problem = (err: unknown): void => {
    const message = describeKafkaError(err, { topic, bootstrap });
    logger?.warn({ err }, message);
    handlers?.problem(message);
  };

  const getAdmin = (): Promise<Admin> => {
    adminReady ??= (async () => {
      const a = kafka.admin({ retry: { retries: 2 } });
      await a.connect();
      admin = a;
      return a;
    })().catch((err: unknown) => {
      adminReady = undefined;
      throw err;
    });
    return adminReady;
  };

  const pause = (r: PartitionReader, on: boolean): void => {
    if (r.paused === on || !consumer || r.generation !== generation) return;
    r.paused = on;
    if (on) consumer.pause([{ topic, partitions: [r.partition] }]);
    else consumer.resume([{ topic, partitions: [r.partition] }]);
  };

  /** Aborts a reader's in-flight batch and lets the partition go; its last commit stands. */
  const release = (r: PartitionReader, reason: string): void => {
    if (readers.get(r.partition) !== r) return;
    readers.delete(r.partition);
    r.abort.abort(new Error(reason));
    r.wake();
    handlers?.released(r.key);
  };

  const releaseAll = (reason: string): void => {
    for (const r of [...readers.values()]) release(r, reason);
  };

  async function commit(r: PartitionReader, position: string): Promise<void> {
    // Never after the partition left: another member may own it now, and this commit would move its position.
    r.abort.signal.throwIfAborted();
    const offset = commitOffsetFor(position, r.lastRecord, r.fetchedEnd);
    if (r.committed !== undefined && BigInt(offset) <= BigInt(r.committed)) return;
    for (let attempt = 0; ; attempt++) {
      const c = consumer;
      if (!c) throw new Error('the Kafka consumer is not running');
      try {
        await c.commitOffsets([{ topic, partition: r.partition, offset }]);
        break;
      } catch (err) {
        const delay = commitRetryDelayMs(err, attempt);
        if (delay === undefined) throw err;
        logger?.info({ partition: r.key, err, attempt }, 'the broker did not take a commit: trying again');
        await sleep(delay, r.abort.signal);
      }
    }
    r.abort.signal.throwIfAborted();
    r.committed = offset;
  }

  /** The reader's loop: hands the queue to the sink in order, one call at a time. */
  async function readLoop(r: PartitionReader): Promise<void> {
    const signal = r.abort.signal;
    while (!signal.aborted && !draining) {
      if (r.queue.length === 0) {
        await new Promise<void>((resolve) => (r.wake = resolve));
        continue;
      }
      // maximumBatchingWindowInSeconds: gather up to batchSize records for at most the window, counted from the oldest one queued.
      const until = r.firstQueuedAt + windowMs;
      if (r.queue.length < batchSize && Date.now() < until) {
        await Promise.race([new Promise<void>((resolve) => (r.wake = resolve)), abortableSleep(until - Date.now(), signal)]);
        continue;
      }
      // Woken by a drain: the records queued are not started; the partition's next owner reads them from the last commit.
      if (draining) return;
      const records = r.queue.splice(0, batchSize);
      for (const x of records) r.queuedBytes -= recordBytes(x);
      r.firstQueuedAt = Date.now();
      if (r.queue.length < limit.records && r.queuedBytes < limit.bytes) pause(r, false);
      r.busy = true;
      try {
        await r.sink.process(records, signal);
      } catch (err) {
        if (signal.aborted) return;
        // Not an abort: the sink could not finish (a commit failed, say). Read the partition again from its last commit, after a pause
        // (unless the group rebalances first and hands out readers anew). A rebalance under way is no problem of the mapping.
        if (groupMovedOn(err)) logger?.info({ partition: r.key, err }, 'a commit met a rebalance: the partition is read again from its last commit');
        else problem(err);
        restartPartition(r);
        return;
      } finally {
        r.busy = false;
      }
    }
  }

  function restartPartition(r: PartitionReader): void {
    const c = consumer;
    const from = r.committed;
    release(r, 'the partition is read again from its last commit');
    if (!c || stopped || draining || r.generation !== generation) return;
    restarting.add(r.partition);
    c.pause([{ topic, partitions: [r.partition] }]);
    const t = setTimeout(() => {
      if (stopped || r.generation !== generation || consumer !== c) return;
      restarting.delete(r.partition);
      // Fetching goes back to the last commit (or, without one, to where this reader began), dropping what was fetched past it.
      const back = from ?? r.firstOffset;
      if (back !== undefined) c.seek({ topic, partition: r.partition, offset: back });
      openReader(r.partition);
      c.resume([{ topic, partitions: [r.partition] }]);
    }, reconnectBase);
    t.unref();
  }

  function openReader(partition: number): PartitionReader {
    const key = `${topic}-${partition}`;
    const r: PartitionReader = {
      key,
      partition,
      generation,
      sink: undefined as unknown as PartitionSink,
      abort: new AbortController(),
      queue: [],
      queuedBytes: 0,
      firstQueuedAt: Date.now(),
      paused: false,
      busy: false,
      wake: () => undefined,
      done: Promise.resolve(),
    };
    r.sink = (handlers as ConnectorHandlers).sinkFor(key, (position) => commit(r, position));
    readers.set(partition, r);
    r.done = readLoop(r).catch((err: unknown) => {
      if (!r.abort.signal.aborted) problem(err);
    });
    return r;
  }

  async function eachBatch({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    if (stopped || draining) return;
    const partition = batch.partition;
    const r = readers.get(partition);
    // No reader: the partition is being read again from its last commit (or is no longer ours). Not resolving the batch leaves the fetch position where it was.
    if (!r || restarting.has(partition)) return;
    const records = batch.messages.map((m) => toRecord(topic, partition, m));
    if (records.length === 0) return;
    if (r.queue.length === 0) r.firstQueuedAt = Date.now();
    r.firstOffset ??= (records[0] as KafkaRecord).offset;
    r.queue.push(...records);
    for (const x of records) r.queuedBytes += recordBytes(x);
    r.lastRecord = (records.at(-1) as KafkaRecord).offset;
    r.fetchedEnd = BigInt(batch.lastOffset()) + 1n;
    // The fetch position moves on (the reader holds these records); what is committed moves only as the sink finishes them.
    resolveOffset(batch.lastOffset());
    if (r.queue.length >= limit.records || r.queuedBytes >= limit.bytes) pause(r, true);
    r.wake();
  }

  /** A fetch that held only markers or aborted records: an idle reader whose records are all done commits past them. */
  function onEmptyBatch(partition: number, lastOffset: string): void {
    const r = readers.get(partition);
    if (!r || r.busy || r.queue.length > 0 || r.lastRecord === undefined) return;
    const end = BigInt(lastOffset) + 1n;
    if (r.fetchedEnd === undefined || end > r.fetchedEnd) r.fetchedEnd = end;
    if (r.committed === undefined || BigInt(r.committed) < BigInt(r.lastRecord) + 1n) return;
    void commit(r, r.lastRecord).catch(() => undefined);
  }

  /** The group's commits for the topic: partition → offset ('-1' without one). */
  async function committedOffsets(a: Admin): Promise<Map<number, string>> {
    const reply = await a.fetchOffsets({ groupId, topics: [topic] });
    return new Map((reply.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, p.offset]));
  }

  /** Resolves the starting position of the partitions the group has no commit for (once: at start, so LATEST means the end when the mapping started). */
  async function resolveStartingPositions(a: Admin): Promise<void> {
    if (startingPosition === 'TRIM_HORIZON' || startsResolved) return;
    const committed = await committedOffsets(a);
    const ends = await a.fetchTopicOffsets(topic);
    const at =
      startingPosition === 'AT_TIMESTAMP' ? await a.fetchTopicOffsetsByTimestamp(topic, Date.parse(mapping.spec.startingPositionTimestamp ?? '')) : ends.map((e) => ({ partition: e.partition, offset: e.high }));
    for (const p of at) if ((committed.get(p.partition) ?? '-1') === '-1') initial.set(p.partition, p.offset);
    startsResolved = true;
  }

  /**
   * After a join: partitions the group has no commit for start at their
   * resolved starting position (paused until it is set), and that position is
   * committed at once, so it is the group's: a member that takes the
   * partition over before anything else is committed goes on from there,
   * not from where its own LATEST would be (records in between skipped).
   */
  async function seekStarts(c: Consumer, gen: number, partitions: number[]): Promise<void> {
    try {
      const committed = await committedOffsets(await getAdmin());
      if (gen !== generation || consumer !== c) return;
      const starts: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const p of partitions) {
        const offset = initial.get(p);
        if (offset === undefined || (committed.get(p) ?? '-1') !== '-1') continue;
        c.seek({ topic, partition: p, offset });
        starts.push({ topic, partition: p, offset });
      }
      if (starts.length > 0) await c.commitOffsets(starts);
    } catch (err) {
      problem(err);
    } finally {
      if (gen === generation && consumer === c) c.resume([{ topic, partitions }]);
    }
  }

  function onJoin(c: Consumer, assignment: Record<string, number[]>): void {
    // Eager rebalancing: every partition was given up; readers of the last generation were aborted at the rebalance (or are now).
    releaseAll('the group rebalanced');
    restarting.clear();
    generation++;
    const mine = assignment[topic] ?? [];
    logger?.info({ partitions: mine, generation }, 'Kafka partitions assigned');
    // A rebalance while draining (a member joined or left): nothing to finish any more, nothing new to start; the stop leaves the group.
    if (draining) return;
    c.resume([{ topic, partitions: mine }]);
    const toSeek = mine.filter((p) => initial.has(p));
    if (toSeek.length > 0) {
      c.pause([{ topic, partitions: toSeek }]);
      void seekStarts(c, generation, toSeek);
    }
    for (const p of mine) openReader(p);
  }

  function scheduleReconnect(): void {
    if (stopped || retryTimer) return;
    const delay = Math.min(30_000, reconnectBase * 2 ** Math.min(attempt, 5));
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
    retryTimer.unref();
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const c = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.max(500, Math.floor((opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS) / 10)),
      maxWaitTimeInMs: maxWaitTimeMs,
      // Reads only committed transactions (the default, said here because it matters: aborted records never reach a function).
      readUncommitted: false,
      // A crash we cannot recover from in place is handled below (a fresh consumer after a backoff) rather than by kafkajs restarting in a loop.
      retry: { retries: 5, restartOnFailure: async () => true },
    });
    try {
      const a = await getAdmin();
      const meta = await a.fetchTopicMetadata({ topics: [topic] });
      if ((meta.topics[0]?.partitions.length ?? 0) === 0) throw Object.assign(new Error(`topic ${topic} has no partitions`), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
      await resolveStartingPositions(a);
      if (stopped) return;
      consumer = c;
      c.on(c.events.GROUP_JOIN, (e) => {
        if (consumer === c) onJoin(c, e.payload.memberAssignment);
      });
      c.on(c.events.REBALANCING, () => {
        if (consumer === c) releaseAll('the group is rebalancing');
      });
      c.on(c.events.END_BATCH_PROCESS, (e) => {
        if (consumer === c && e.payload.batchSize === 0) onEmptyBatch(e.payload.partition, e.payload.lastOffset);
      });
      c.on(c.events.CRASH, (e) => {
        if (consumer !== c) return;
        releaseAll('the Kafka consumer crashed');
        problem(e.payload.error);
        if (!e.payload.restart) {
          consumer = undefined;
          void c.disconnect().catch(() => undefined);
          scheduleReconnect();
        }
      });
      await c.connect();
      await c.subscribe({ topics: [topic], fromBeginning: startingPosition !== 'LATEST' });
      // Commits are ours alone (autoCommit off) and fetched records are resolved as they are queued (eachBatchAutoResolve off).
      await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
      attempt = 0;
      logger?.info({ bootstrap }, 'Kafka consumer joined the group');
    } catch (err) {
      problem(err);
      if (consumer === c) consumer = undefined;
      releaseAll('the Kafka consumer stopped');
      await c.disconnect().catch(() => undefined);
      scheduleReconnect();
    }
  }

  function stop(o: { drainMs?: number } = {}): Promise<void> {
    stopping ??= stopNow(o.drainMs ?? 0);
    return stopping;
  }

  /** Drains for up to drainMs (0: not at all), then aborts what still runs and leaves the group. */
  async function stopNow(drainMs: number): Promise<void> {
    if (drainMs > 0 && !stopped && readers.size > 0) {
      draining = true;
      clearTimeout(retryTimer);
      // Nothing more is fetched; the consumer goes on heartbeating, so the partitions stay ours while their batches finish and commit.
      consumer?.pause([{ topic }]);
      const rs = [...readers.values()];
      for (const r of rs) {
        r.sink.drain?.();
        r.wake();
      }
      let deadline: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all(rs.map((r) => r.done)).then(() => true),
        new Promise<false>((res) => (deadline = setTimeout(() => res(false), drainMs))),
      ]);
      clearTimeout(deadline);
      if (!drained) logger?.warn({ drainMs }, 'drain deadline reached: the batches still in flight are aborted; their records run again on the partitions\' next owners');
    }
    stopped = true;
    clearTimeout(retryTimer);
    const rs = [...readers.values()];
    releaseAll('the connector stopped');
    await Promise.all(rs.map((r) => r.done));
    const c = consumer;
    consumer = undefined;
    // disconnect stops the fetch loop and leaves the group: its partitions go to the other members at once.
    await c?.disconnect().catch((err: unknown) => logger?.warn({ err }, 'leaving the Kafka group failed'));
    const p = producer;
    producer = undefined;
    await Promise.all([
      p?.then((x) => x.disconnect()).catch(() => undefined),
      admin?.disconnect().catch(() => undefined),
    ]);
    admin = undefined;
    adminReady = undefined;
  }

  return {
    async start(h: ConnectorHandlers): Promise<void> {
      handlers = h;
      await connect();
    },

    stop,

    kill(): void {
      // Aborts at once, a drain under way included.
      stopped = true;
      releaseAll('killed');
      void stop();
    },

    async lag(): Promise<PartitionLag> {
      if (stopped) return [];
      const a = await getAdmin();
      const [ends, committed] = await Promise.all([a.fetchTopicOffsets(topic), committedOffsets(a)]);
      return ends
        .sort((x, y) => x.partition - y.partition)
        .map((e) => {
          const init = initial.get(e.partition);
          return {
            partition: `${topic}-${e.partition}`,
            lag: partitionLag({ low: e.low, high: e.high, committed: committed.get(e.partition) ?? '-1', ...(init !== undefined ? { initial: init } : {}), startingPosition }),
          };
        });
    },

    async produce(to: string, value: Buffer, key?: Buffer | null): Promise<void> {
      if (stopped) throw new Error('the Kafka connector is stopped');
      producer ??= (async () => {
        const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await p.connect();
        return p;
      })().catch((err: unknown) => {
        producer = undefined;
        throw err;
      });
      const p = await producer;
      await p.send({ topic: to, acks: -1, messages: [{ value, ...(key ? { key } : {}) }] });
    },
  };
}
