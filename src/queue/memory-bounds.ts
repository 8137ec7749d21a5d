// How much the in-memory queue (the embedded default) may hold, and what it
// lets go when full. Records of finished invocations and dead letters are
// evicted oldest first; an event accepted and not yet finished is never
// evicted: when those alone fill the bounds, new events are refused (429)
// instead, so nothing accepted is lost. Pure.

export interface MemoryQueueBounds {
  /** Bytes of events, results and dead letters held at once. */
  maxBytes: number;
  /** Invocation records (and events) held at once. */
  maxRecords: number;
}

export const DEFAULT_MEMORY_QUEUE_BOUNDS: MemoryQueueBounds = { maxBytes: 128 * 1024 * 1024, maxRecords: 10_000 };
/** The smallest byte bound: an async payload (1 MiB) and a sync-sized result (6 MiB) must fit with room to spare. */
export const MIN_MEMORY_QUEUE_BYTES = 16 * 1024 * 1024;

/** What an entry held in memory costs beyond its payloads: ids, timestamps, map slots. */
export const ENTRY_OVERHEAD_BYTES = 256;

export interface Held {
  bytes: number;
  records: number;
}

/** Events accepted and not yet finished: what cannot be evicted. */
export interface Pinned {
  bytes: number;
  events: number;
}

/** Whether one more event of `bytes` may be accepted; a string is why not. */
export function admit(pinned: Pinned, bytes: number, bounds: MemoryQueueBounds): true | string {
  if (pinned.events + 1 > bounds.maxRecords) {
    return `the in-memory queue holds ${pinned.events} events not yet finished, its limit (--queue-max-records ${bounds.maxRecords})`;
  }
  if (pinned.bytes + bytes > bounds.maxBytes) {
    return `the in-memory queue's events not yet finished take ${pinned.bytes} bytes; this one (${bytes}) would pass its limit (--queue-max-bytes ${bounds.maxBytes})`;
  }
  return true;
}

export interface Candidate<K> {
  key: K;
  bytes: number;
  /** Counts toward maxRecords (an invocation record; a dead letter does not). */
  record: boolean;
  /** False for what must stay (the record of an event not yet finished, the record just written). */
  evictable: boolean;
}

/**
 * What to evict, oldest first, so what is held fits the bounds again:
 * candidates come oldest first and the first evictable ones go until both
 * bounds are met (or nothing evictable is left). Stops reading at once when
 * nothing needs to go.
 */
export function evictions<K>(held: Held, bounds: MemoryQueueBounds, oldestFirst: Iterable<Candidate<K>>): K[] {
  const out: K[] = [];
  let { bytes, records } = held;
  if (bytes <= bounds.maxBytes && records <= bounds.maxRecords) return out;
  for (const c of oldestFirst) {
    if (!c.evictable) continue;
    const overBytes = bytes > bounds.maxBytes;
    const overRecords = records > bounds.maxRecords;
    if (!overBytes && !overRecords) break;
    // Over the record count only: a dead letter does not help.
    if (!overBytes && !c.record) continue;
    out.push(c.key);
    bytes -= c.bytes;
    if (c.record) records--;
  }
  return out;
}
