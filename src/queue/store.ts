// The storage operations the queue and its consumers are built from. Each
// implementation (memory, Redis) provides them; everything about retries,
// records and destinations lives once, above them, in consumer.ts and
// base-queue.ts. Operations that finish an entry take its id and acknowledge
// it in the same atomic step as the write that records the outcome, which is
// what makes delivery at-least-once and never at-most-once.
import type { Backlog, InvocationRecord, MemoryQueueStats, RecordWrite } from './queue.js';
import type { DestinationRecord } from './records.js';

export interface StoredEvent {
  requestId: string;
  functionName: string;
  /** The version or alias the caller named: kept through retries, hand-backs, dead letters and redrive. */
  qualifier?: string;
  payload: Buffer;
  /** First acceptance (epoch ms); retries and reclaims keep it, a redrive renews it. */
  enqueuedAt: number;
  /** Times the function ran. */
  attempts: number;
  functionErrors: number;
  systemErrors: number;
  traceId?: string;
  /** The enqueue's span as a W3C traceparent: the queue wait and the invocation's spans continue its trace. */
  traceparent?: string;
  clientContext?: string;
}

export interface Delivery {
  /** The stream entry id, to acknowledge. */
  id: string;
  /** Absent when the entry was deleted after it was delivered; it is only acknowledged. */
  event: StoredEvent | undefined;
}

export interface DeadLetterEntry {
  event: StoredEvent;
  record: DestinationRecord;
  deadLetteredAt: number;
}

export interface StoredDeadLetter extends DeadLetterEntry {
  id: string;
}

/** The invocation record an enqueue writes with its event: where none is (a quicker consumer's stands), kept ttlMs. */
export interface FirstRecord {
  value: InvocationRecord;
  ttlMs: number;
}

export interface QueueStore {
  /**
   * Appends one event; with an idempotency token, only if none was taken
   * within the window. With `record`, the event's first invocation record is
   * written too when the event is appended (not for a duplicate), where no
   * record is yet; in the same atomic step where the store can (Redis outside
   * Cluster). A record that alone could not be written does not fail the
   * append: the event is what was accepted.
   */
  append(event: StoredEvent, idempotency?: { token: string; windowMs: number }, record?: FirstRecord): Promise<{ requestId: string; duplicate: boolean }>;
  /** Makes sure the consumer group exists (idempotent). */
  prepare(functionName: string): Promise<void>;
  /** Events never delivered before, waiting at most blockMs. */
  read(functionName: string, consumer: string, count: number, blockMs: number): Promise<Delivery[]>;
  /** Takes over entries left unacknowledged longer than minIdleMs; `cursor` continues a previous scan. */
  reclaim(functionName: string, consumer: string, minIdleMs: number, count: number, cursor: string): Promise<{ deliveries: Delivery[]; cursor: string }>;
  /**
   * Gives entries this consumer holds but has not started back to the group
   * at once: another consumer's next reclaim takes them, whatever its minimum
   * idle time. Entries another consumer took over meanwhile are left alone.
   */
  handBack(functionName: string, consumer: string, ids: readonly string[]): Promise<void>;
  ack(functionName: string, id: string): Promise<void>;
  /** Keeps the event for a retry at dueAt and acknowledges the entry, atomically. */
  retryLater(functionName: string, id: string, event: StoredEvent, dueAt: number): Promise<void>;
  /** Moves retries due by `now` back into the stream; returns how many moved. */
  promoteDue(functionName: string, now: number, limit: number): Promise<number>;
  /** Appends to the dead-letter stream and acknowledges the entry, atomically. */
  deadLetter(functionName: string, id: string, entry: DeadLetterEntry): Promise<void>;
  listDeadLetters(functionName: string, limit: number): Promise<StoredDeadLetter[]>;
  /**
   * Moves up to `limit` dead letters back into the stream as fresh events accepted at `now`.
   * `beforeMove` runs for each before it becomes visible to consumers, so what it writes cannot overwrite their results.
   */
  redrive(functionName: string, limit: number, now: number, beforeMove?: (event: StoredEvent) => Promise<void>): Promise<StoredEvent[]>;
  /** Appends a destination record to a named stream. */
  appendToStream(stream: string, record: DestinationRecord): Promise<string>;
  readStream(stream: string, limit: number): Promise<Array<{ id: string; record: DestinationRecord }>>;
  putRecord(record: InvocationRecord, ttlMs: number, when?: RecordWrite): Promise<void>;
  /**
   * Counts one more run of this event, atomically across consumers, and
   * returns the count: at least one more than the event's stored attempts, so
   * a run cut short by a crash still counts when the event runs again.
   * `delta` -1 takes back a count made for a send that provably never ran.
   */
  countAttempt(event: StoredEvent, ttlMs: number, delta?: 1 | -1): Promise<number>;
  getRecord(requestId: string): Promise<InvocationRecord | undefined>;
  backlog(functionName: string, now: number): Promise<Backlog>;
  /** Forgets consumers (processes long gone) that hold nothing and have been idle longer than idleMs. */
  pruneConsumers(functionName: string, idleMs: number): Promise<number>;
  /** Releases resources a consumer held for reading (blocking connections). */
  releaseConsumer(consumer: string): Promise<void>;
  /** A bounded store in memory: what it holds. */
  stats?(): MemoryQueueStats;
  /** A bounded store in memory: why a record is gone, when it was evicted. */
  evictionNote?(requestId: string): string | undefined;
  close(): Promise<void>;
}

/**
 * Appends an event's stream entry fields to `out` and returns how many:
 * written in place, so a batched enqueue needs no array per event. The
 * payload's value goes as given: the bytes, or what stands for them on the
 * way (redis.ts: a string that encodes back to the same bytes, or the index
 * of an argument holding them).
 */
export function pushEventFields<P>(out: Array<string | P>, e: StoredEvent, payload: P): number {
  const before = out.length;
  out.push('r', e.requestId, 'p', payload, 't', String(e.enqueuedAt), 'a', String(e.attempts), 'fe', String(e.functionErrors), 'se', String(e.systemErrors));
  if (e.qualifier !== undefined) out.push('q', e.qualifier);
  if (e.traceId !== undefined) out.push('tr', e.traceId);
  if (e.traceparent !== undefined) out.push('tp', e.traceparent);
  if (e.clientContext !== undefined) out.push('cc', e.clientContext);
  return out.length - before;
}

/** Stream entry fields of an event; short names because every entry carries them. */
export function encodeEvent(e: StoredEvent): Array<string | Buffer> {
  const f: Array<string | Buffer> = [];
  pushEventFields(f, e, e.payload);
  return f;
}

export function decodeEvent(functionName: string, fields: ReadonlyArray<Buffer>): StoredEvent | undefined {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (k !== undefined && v !== undefined) m.set(k.toString(), v);
  }
  const r = m.get('r');
  const p = m.get('p');
  const t = m.get('t');
  if (r === undefined || p === undefined || t === undefined) return undefined;
  const num = (k: string): number => Number(m.get(k)?.toString() ?? '0') || 0;
  const event: StoredEvent = {
    requestId: r.toString(),
    functionName,
    payload: p,
    enqueuedAt: Number(t.toString()),
    attempts: num('a'),
    functionErrors: num('fe'),
    systemErrors: num('se'),
  };
  const q = m.get('q');
  const tr = m.get('tr');
  const tp = m.get('tp');
  const cc = m.get('cc');
  if (q !== undefined) event.qualifier = q.toString();
  if (tr !== undefined) event.traceId = tr.toString();
  if (tp !== undefined) event.traceparent = tp.toString();
  if (cc !== undefined) event.clientContext = cc.toString();
  return event;
}

/** A deep copy: Buffers survive it, which structuredClone would turn into plain Uint8Arrays. */
export function cloneEvent(e: StoredEvent): StoredEvent {
  return { ...e, payload: Buffer.from(e.payload) };
}
