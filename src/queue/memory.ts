// The in-memory store behind the embedded default (`hearth up` without
// REDIS_URL). It mirrors the Redis Streams semantics the consumer relies on
// (delivery to a named consumer, a pending list, reclaim after idleness,
// atomic finish-and-ack) so one contract suite covers both. Nothing survives
// the process, which is the embedded default's documented trade. What it
// holds is bounded (memory-bounds.ts): finished records and dead letters are
// evicted oldest first, and new events refused while unfinished ones fill it.
import { admit, DEFAULT_MEMORY_QUEUE_BOUNDS, ENTRY_OVERHEAD_BYTES, evictions, type Candidate, type MemoryQueueBounds } from './memory-bounds.js';
import { FINISHED_STATUSES, QueueFullError, type Backlog, type InvocationRecord, type MemoryQueueStats, type RecordWrite } from './queue.js';
import type { DestinationRecord } from './records.js';
import { cloneEvent, type DeadLetterEntry, type Delivery, type FirstRecord, type QueueStore, type StoredDeadLetter, type StoredEvent } from './store.js';


function eventBytes(e: StoredEvent): number {
  return ENTRY_OVERHEAD_BYTES + e.payload.length + (e.qualifier?.length ?? 0) + (e.traceId?.length ?? 0) + (e.traceparent?.length ?? 0) + (e.clientContext?.length ?? 0);
}

function recordBytes(r: InvocationRecord): number {
  return ENTRY_OVERHEAD_BYTES + (r.result?.payload.length ?? 0) + (r.result?.errorType?.length ?? 0) + (r.lastError?.length ?? 0);
}

type EvictKey = { kind: 'record'; requestId: string } | { kind: 'dead-letter'; functionName: string; id: string };

function cloneDeadLetter(e: DeadLetterEntry): DeadLetterEntry {
  return { event: cloneEvent(e.event), record: structuredClone(e.record), deadLetteredAt: e.deadLetteredAt };
}

interface Pending {
  consumer: string;
  deliveredAt: number;
}

interface FunctionState {
  /** Every unacknowledged entry, delivered or not, in id order. */
  entries: Map<string, StoredEvent>;
  undelivered: string[];
  pending: Map<string, Pending>;
  delayed: Array<{ dueAt: number; event: StoredEvent }>;
  deadLetters: Map<string, DeadLetterEntry & { bytes: number }>;
  idempotency: Map<string, { requestId: string; expiresAt: number }>;
  waiters: Set<() => void>;
}

/** Destination streams kept in memory are bounded so a forgotten one cannot grow without end. */
const MAX_STREAM_ENTRIES = 10_000;

export class MemoryStore implements QueueStore {
  readonly #fns = new Map<string, FunctionState>();
  readonly #streams = new Map<string, Array<{ id: string; record: DestinationRecord }>>();
  /** In order of last write: the first finished ones are the oldest, evicted first. */
  readonly #records = new Map<string, { record: InvocationRecord; expiresAt: number; bytes: number }>();
  readonly #attempts = new Map<string, { count: number; expiresAt: number }>();
  readonly #bounds: MemoryQueueBounds;
  /** Events accepted and not finished (in a stream or waiting for a retry): never evicted. */
  #eventBytes = 0;
  #eventCount = 0;
  #recordBytes = 0;
  #deadLetterBytes = 0;
  readonly #evicted = { record: 0, 'dead-letter': 0 };
  #refused = 0;
  /** Request ids of the last records evicted (at most maxRecords), so a lookup can say why it finds nothing. */
  readonly #tombstones = new Set<string>();
  #lastMs = 0;
  #seq = 0;
  #closed = false;

  constructor(bounds: Partial<MemoryQueueBounds> = {}) {
    this.#bounds = { ...DEFAULT_MEMORY_QUEUE_BOUNDS, ...bounds };
  }

  get bounds(): MemoryQueueBounds {
    return { ...this.#bounds };
  }

  stats(): MemoryQueueStats {
    return {
      bytes: this.#eventBytes + this.#recordBytes + this.#deadLetterBytes,
      records: this.#records.size,
      events: this.#eventCount,
      evicted: { ...this.#evicted },
      refused: this.#refused,
      bounds: this.bounds,
    };
  }

  evictionNote(requestId: string): string | undefined {
    if (!this.#tombstones.has(requestId)) return undefined;
    return (
      `Invocation record evicted: ${requestId}. The in-memory queue keeps at most ${this.#bounds.maxRecords} records and ${this.#bounds.maxBytes} bytes, ` +
      'evicting the oldest finished ones first (hearth up --queue-max-records, --queue-max-bytes; or a Redis queue with --redis-url).'
    );
  }

  #addEvent(e: StoredEvent, sign: 1 | -1): void {
    this.#eventBytes += sign * eventBytes(e);
    this.#eventCount += sign;
  }

  #dropRecord(requestId: string): void {
    const r = this.#records.get(requestId);
    if (!r) return;
    this.#records.delete(requestId);
    this.#recordBytes -= r.bytes;
  }

  *#candidates(keep: string | undefined): Iterable<Candidate<EvictKey>> {
    for (const [requestId, r] of this.#records) {
      yield { key: { kind: 'record', requestId }, bytes: r.bytes, record: true, evictable: requestId !== keep && FINISHED_STATUSES.has(r.record.status) };
    }
    for (const [functionName, s] of this.#fns) {
      for (const [id, d] of s.deadLetters) yield { key: { kind: 'dead-letter', functionName, id }, bytes: d.bytes, record: false, evictable: true };
    }
  }

  /** Evicts the oldest finished records and dead letters until the bounds hold; `keep` is the record just written. */
  #evict(keep?: string): void {
    const held = { bytes: this.#eventBytes + this.#recordBytes + this.#deadLetterBytes, records: this.#records.size };
    for (const k of evictions(held, this.#bounds, this.#candidates(keep))) {
      if (k.kind === 'record') {
        this.#dropRecord(k.requestId);
        this.#tombstones.add(k.requestId);
        if (this.#tombstones.size > this.#bounds.maxRecords) this.#tombstones.delete(this.#tombstones.values().next().value ?? '');
      } else {
        const s = this.#fns.get(k.functionName);
        const d = s?.deadLetters.get(k.id);
        if (!s || !d) continue;
        s.deadLetters.delete(k.id);
        this.#deadLetterBytes -= d.bytes;
      }
      this.#evicted[k.kind]++;
    }
  }

  #id(): string {
    const now = Date.now();
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#seq = 0;
    } else {
      this.#seq++;
    }
    return `${this.#lastMs}-${this.#seq}`;
  }

  #state(fn: string): FunctionState {
    let s = this.#fns.get(fn);
    if (!s) {
      s = { entries: new Map(), undelivered: [], pending: new Map(), delayed: [], deadLetters: new Map(), idempotency: new Map(), waiters: new Set() };
      this.#fns.set(fn, s);
    }
    return s;
  }

  #push(s: FunctionState, event: StoredEvent): string {
    const id = this.#id();
    s.entries.set(id, cloneEvent(event));
    this.#addEvent(event, 1);
    s.undelivered.push(id);
    for (const w of s.waiters) w();
    s.waiters.clear();
    return id;
  }

  async append(event: StoredEvent, idempotency?: { token: string; windowMs: number }, record?: FirstRecord): Promise<{ requestId: string; duplicate: boolean }> {
    this.#open();
    const s = this.#state(event.functionName);
    const now = Date.now();
    const seen = idempotency ? s.idempotency.get(idempotency.token) : undefined;
    if (seen && seen.expiresAt > now) return { requestId: seen.requestId, duplicate: true };
    const room = admit({ bytes: this.#eventBytes, events: this.#eventCount }, eventBytes(event), this.#bounds);
    if (room !== true) {
      this.#refused++;
      throw new QueueFullError(room);
    }
    if (idempotency) {
      s.idempotency.set(idempotency.token, { requestId: event.requestId, expiresAt: now + idempotency.windowMs });
      if (s.idempotency.size % 1024 === 0) for (const [k, v] of s.idempotency) if (v.expiresAt <= now) s.idempotency.delete(k);
    }
    this.#push(s, event);
    this.#evict();
    // Synchronous like the push: no consumer runs between them, as in Redis's script.
    if (record) await this.putRecord(record.value, record.ttlMs, 'absent');
    return { requestId: event.requestId, duplicate: false };
  }

  async prepare(functionName: string): Promise<void> {
    this.#state(functionName);
  }

  async read(functionName: string, consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    this.#open();
    const s = this.#state(functionName);
    if (s.undelivered.length === 0 && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          s.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, blockMs);
        s.waiters.add(done);
      });
    }
    const out: Delivery[] = [];
    while (out.length < count && s.undelivered.length > 0) {
      const id = s.undelivered.shift();
      if (id === undefined) break;
      const event = s.entries.get(id);
      if (!event) continue;
      s.pending.set(id, { consumer, deliveredAt: Date.now() });
      out.push({ id, event: cloneEvent(event) });
    }
    return out;
  }

  async reclaim(functionName: string, consumer: string, minIdleMs: number, count: number, _cursor: string): Promise<{ deliveries: Delivery[]; cursor: string }> {
    this.#open();
    const s = this.#state(functionName);
    const now = Date.now();
    const out: Delivery[] = [];
    for (const [id, p] of s.pending) {
      if (out.length >= count) break;
      if (now - p.deliveredAt < minIdleMs) continue;
      const event = s.entries.get(id);
      p.consumer = consumer;
      p.deliveredAt = now;
      out.push({ id, event: event ? cloneEvent(event) : undefined });
    }
    return { deliveries: out, cursor: '0-0' };
  }

  async handBack(functionName: string, consumer: string, ids: readonly string[]): Promise<void> {
    this.#open();
    const s = this.#state(functionName);
    for (const id of ids) {
      const p = s.pending.get(id);
      // Idle since the epoch: past any consumer's minimum idle time.
      if (p?.consumer === consumer) p.deliveredAt = 0;
    }
  }

  #ackNow(s: FunctionState, id: string): void {
    s.pending.delete(id);
    const e = s.entries.get(id);
    if (e) this.#addEvent(e, -1);
    s.entries.delete(id);
  }

  async ack(functionName: string, id: string): Promise<void> {
    this.#open();
    this.#ackNow(this.#state(functionName), id);
  }

  async retryLater(functionName: string, id: string, event: StoredEvent, dueAt: number): Promise<void> {
    this.#open();
    const s = this.#state(functionName);
    s.delayed.push({ dueAt, event: cloneEvent(event) });
    this.#addEvent(event, 1);
    this.#ackNow(s, id);
  }

  async promoteDue(functionName: string, now: number, limit: number): Promise<number> {
    this.#open();
    const s = this.#state(functionName);
    s.delayed.sort((a, b) => a.dueAt - b.dueAt);
    let moved = 0;
    while (moved < limit && s.delayed.length > 0 && (s.delayed[0]?.dueAt ?? Infinity) <= now) {
      const d = s.delayed.shift();
      if (!d) break;
      this.#addEvent(d.event, -1);
      this.#push(s, d.event);
      moved++;
    }
    return moved;
  }

  async deadLetter(functionName: string, id: string, entry: DeadLetterEntry): Promise<void> {
    this.#open();
    const s = this.#state(functionName);
    const bytes = eventBytes(entry.event) + JSON.stringify(entry.record).length;
    s.deadLetters.set(this.#id(), { ...cloneDeadLetter(entry), bytes });
    this.#deadLetterBytes += bytes;
    this.#ackNow(s, id);
    this.#evict();
  }

  async listDeadLetters(functionName: string, limit: number): Promise<StoredDeadLetter[]> {
    this.#open();
    const out: StoredDeadLetter[] = [];
    for (const [id, e] of this.#state(functionName).deadLetters) {
      if (out.length >= limit) break;
      out.push({ id, ...cloneDeadLetter(e) });
    }
    return out;
  }

  async redrive(functionName: string, limit: number, now: number, beforeMove?: (event: StoredEvent) => Promise<void>): Promise<StoredEvent[]> {
    this.#open();
    const s = this.#state(functionName);
    const out: StoredEvent[] = [];
    for (const [id, e] of s.deadLetters) {
      if (out.length >= limit) break;
      const fresh: StoredEvent = { ...cloneEvent(e.event), enqueuedAt: now, attempts: 0, functionErrors: 0, systemErrors: 0 };
      if (beforeMove) await beforeMove(fresh);
      const d = s.deadLetters.get(id);
      if (!d || !s.deadLetters.delete(id)) continue;
      this.#deadLetterBytes -= d.bytes;
      this.#push(s, fresh);
      out.push(fresh);
    }
    return out;
  }

  async appendToStream(stream: string, record: DestinationRecord): Promise<string> {
    this.#open();
    let list = this.#streams.get(stream);
    if (!list) this.#streams.set(stream, (list = []));
    const id = this.#id();
    list.push({ id, record: structuredClone(record) });
    if (list.length > MAX_STREAM_ENTRIES) list.splice(0, list.length - MAX_STREAM_ENTRIES);
    return id;
  }

  async readStream(stream: string, limit: number): Promise<Array<{ id: string; record: DestinationRecord }>> {
    return (this.#streams.get(stream) ?? []).slice(0, limit).map((e) => structuredClone(e));
  }

  async putRecord(record: InvocationRecord, ttlMs: number, when: RecordWrite = 'always'): Promise<void> {
    this.#open();
    const now = Date.now();
    const existing = this.#records.get(record.requestId);
    const live = existing !== undefined && existing.expiresAt > now ? existing : undefined;
    if (when === 'absent' && live) return;
    if (when === 'unfinished' && live && FINISHED_STATUSES.has(live.record.status)) return;
    // Deleted first so the map's order stays the order of last writes.
    this.#dropRecord(record.requestId);
    this.#tombstones.delete(record.requestId);
    const bytes = recordBytes(record);
    this.#records.set(record.requestId, { record: structuredClone(record), expiresAt: now + ttlMs, bytes });
    this.#recordBytes += bytes;
    if (this.#records.size % 1024 === 0) for (const [k, v] of this.#records) if (v.expiresAt <= now) this.#dropRecord(k);
    this.#evict(record.requestId);
  }

  async countAttempt(event: StoredEvent, ttlMs: number, delta: 1 | -1 = 1): Promise<number> {
    this.#open();
    const now = Date.now();
    const key = `${event.requestId}\u0000${event.enqueuedAt}`;
    const seen = this.#attempts.get(key);
    const n = Math.max(seen && seen.expiresAt > now ? seen.count : 0, event.attempts) + delta;
    this.#attempts.set(key, { count: n, expiresAt: now + ttlMs });
    if (this.#attempts.size % 1024 === 0) for (const [k, v] of this.#attempts) if (v.expiresAt <= now) this.#attempts.delete(k);
    return n;
  }

  async getRecord(requestId: string): Promise<InvocationRecord | undefined> {
    const r = this.#records.get(requestId);
    if (!r) return undefined;
    if (r.expiresAt <= Date.now()) {
      this.#dropRecord(requestId);
      return undefined;
    }
    return structuredClone(r.record);
  }

  async backlog(functionName: string, now: number): Promise<Backlog> {
    const s = this.#state(functionName);
    let oldest = Infinity;
    for (const e of s.entries.values()) oldest = Math.min(oldest, e.enqueuedAt);
    return {
      pending: s.pending.size,
      lag: s.entries.size - s.pending.size,
      delayed: s.delayed.length,
      deadLettered: s.deadLetters.size,
      oldestAgeSeconds: oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000),
    };
  }

  async pruneConsumers(_functionName: string, _idleMs: number): Promise<number> {
    // Consumers leave no trace here beyond their pending entries.
    return 0;
  }

  async releaseConsumer(_consumer: string): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#fns.values()) {
      for (const w of s.waiters) w();
      s.waiters.clear();
    }
  }

  #open(): void {
    if (this.#closed) throw new Error('queue is closed');
  }
}
