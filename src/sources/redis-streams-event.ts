// The event a function gets for a batch of Redis Streams entries. Lambda has
// no Redis source, so Hearth defines one in the spirit of Lambda's Kafka and
// Kinesis events: an `eventSource` naming the kind, an `eventSourceArn` naming
// the source, and the records grouped by partition (a stream is one
// partition), each with its position and time:
//
//   {
//     "eventSource": "hearth:redis-streams",
//     "eventSourceArn": "arn:hearth:redis-streams:::redis.example:6379/0",
//     "records": {
//       "orders": [
//         { "stream": "orders", "id": "1733500000000-0", "timestamp": 1733500000000,
//           "fields": { "kind": "paid", "amount": "12" },
//           "fieldList": [["kind", "paid"], ["amount", "12"]] }
//       ]
//     }
//   }
//
// `fields` is the entry as an object (a field that repeats: its last value);
// `fieldList` keeps every pair in order. Values are the strings Redis holds.
// `id` is what ReportBatchItemFailures' itemIdentifier names.
import type { RedisStreamRecord } from './records.js';

export const REDIS_STREAMS_EVENT_SOURCE = 'hearth:redis-streams';

export interface RedisStreamsEvent {
  eventSource: typeof REDIS_STREAMS_EVENT_SOURCE;
  eventSourceArn: string;
  records: Record<string, RedisStreamsEventRecord[]>;
}

export interface RedisStreamsEventRecord {
  stream: string;
  /** The entry id, MS-SEQ. */
  id: string;
  /** Milliseconds since the epoch: the id's first part, when Redis added the entry. */
  timestamp: number;
  /** The entry's fields; the last value of a field that repeats. */
  fields: Record<string, string>;
  /** Every field/value pair, in the entry's order. */
  fieldList: Array<[string, string]>;
}

export function redisStreamsEventRecord(r: RedisStreamRecord): RedisStreamsEventRecord {
  return {
    stream: r.stream,
    id: r.id,
    timestamp: Number(r.id.split('-')[0]),
    // fromEntries: the last of repeated fields wins, and a field named __proto__ is an own property.
    fields: Object.fromEntries(r.fields) as Record<string, string>,
    fieldList: r.fields.map(([f, v]) => [f, v]),
  };
}

export function redisStreamsEvent(records: readonly RedisStreamRecord[], eventSourceArn: string): RedisStreamsEvent {
  const byStream = new Map<string, RedisStreamsEventRecord[]>();
  for (const r of records) {
    let list = byStream.get(r.stream);
    if (!list) byStream.set(r.stream, (list = []));
    list.push(redisStreamsEventRecord(r));
  }
  return { eventSource: REDIS_STREAMS_EVENT_SOURCE, eventSourceArn, records: Object.fromEntries(byStream) };
}

/**
 * The eventSourceArn of a Redis Streams source: the server it reads (host,
 * port and database of its URL, never its credentials), or `platform` for
 * the platform's own Redis. Stable across gateways, so a function can tell
 * sources apart.
 */
export function redisStreamsEventSourceArn(url: string | undefined): string {
  if (url === undefined) return 'arn:hearth:redis-streams:::platform';
  const u = new URL(url);
  const port = u.port === '' ? '6379' : u.port;
  const db = u.pathname.replace(/^\//, '') || '0';
  return `arn:hearth:redis-streams:::${u.hostname}:${port}/${db}`;
}
