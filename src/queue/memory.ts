// The in-memory store behind the embedded default (`hearth up` without
// REDIS_URL). It mirrors the Redis Streams semantics the consumer relies on
// (delivery to a named consumer, a pending list, reclaim after idleness,
// atomic finish-and-ack) so one contract suite covers both. Nothing survives
// the process, which is the embedded default's documented trade.
import type { Backlog, InvocationRecord } from './queue.js';
import type { DestinationRecord } from './records.js';
import { cloneEvent, type DeadLetterEntry, type Delivery, type QueueStore, type StoredDeadLetter, type StoredEvent } from './store.js';

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
  deadLetters: Map<string, DeadLetterEntry>;
  idempotency: Map<string, { requestId: string; expiresAt: number }>;
  waiters: Set<() => void>;
}

/** Destination streams kept in memory are bounded so a forgotten one cannot grow without end. */
const MAX_STREAM_ENTRIES = 10_000;

export class MemoryStore implements QueueStore {
  readonly #fns = new Map<string, FunctionState>();
  readonly #streams = new Map<string, Array<{ id: string; record: DestinationRecord }>>();
  readonly #records = new Map<string, { record: InvocationRecord; expiresAt: number }>();
  readonly #attempts = new Map<string, { count: number; expiresAt: number }>();
  #lastMs = 0;
  #seq = 0;
  #closed = false;

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
    s.undelivered.push(id);
    for (const w of s.waiters) w();
    s.waiters.clear();
    return id;
  }

  async append(event: StoredEvent, idempotency?: { token: string; windowMs: number }): Promise<{ requestId: string; duplicate: boolean }> {
    this.#open();
    const s = this.#state(event.functionName);
    if (idempotency) {
      const now = Date.now();
      const seen = s.idempotency.get(idempotency.token);
      if (seen && seen.expiresAt > now) return { requestId: seen.requestId, duplicate: true };
      s.idempotency.set(idempotency.token, { requestId: event.requestId, expiresAt: now + idempotency.windowMs });
      if (s.idempotency.size % 1024 === 0) for (const [k, v] of s.idempotency) if (v.expiresAt <= now) s.idempotency.delete(k);
    }
    this.#push(s, event);
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
      this.#push(s, d.event);
      moved++;
    }
    return moved;
  }

  async deadLetter(functionName: string, id: string, entry: DeadLetterEntry): Promise<void> {
    this.#open();
    const s = this.#state(functionName);
    s.deadLetters.set(this.#id(), cloneDeadLetter(entry));
    this.#ackNow(s, id);
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
      if (!s.deadLetters.delete(id)) continue;
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

  async putRecord(record: InvocationRecord, ttlMs: number, onlyIfAbsent = false): Promise<void> {
    this.#open();
    const now = Date.now();
    const existing = this.#records.get(record.requestId);
    if (onlyIfAbsent && existing && existing.expiresAt > now) return;
    this.#records.set(record.requestId, { record: structuredClone(record), expiresAt: now + ttlMs });
    if (this.#records.size % 1024 === 0) for (const [k, v] of this.#records) if (v.expiresAt <= now) this.#records.delete(k);
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
      this.#records.delete(requestId);
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
