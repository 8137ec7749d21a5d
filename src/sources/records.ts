// The records an event-source mapping's pollers read, as every part of
// src/sources sees them: what a connector (Kafka, Redis Streams) hands the
// partition processor, what the event builders turn into the function's
// event, what filter patterns look at and what the failure record describes.

/** One Kafka record, as the broker returned it. */
export interface KafkaRecord {
  source: 'kafka';
  topic: string;
  partition: number;
  /** The offset, a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  /** Milliseconds since the epoch. */
  timestampMs: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer }>;
}

/** One Redis Streams entry. */
export interface RedisStreamRecord {
  source: 'redis-streams';
  stream: string;
  /** The entry id, MS-SEQ. */
  id: string;
  /** Field/value pairs in the entry's order (a field may repeat). */
  fields: Array<[string, string]>;
}

export type SourceRecord = KafkaRecord | RedisStreamRecord;

/**
 * The partition a record belongs to: order is kept, and one batch is in
 * flight, per partition. Kafka: TOPIC-N (Lambda's key in the event's
 * `records`); Redis Streams: the stream key (a stream is one partition).
 */
export function partitionOf(r: SourceRecord): string {
  return r.source === 'kafka' ? `${r.topic}-${r.partition}` : r.stream;
}

/** The record's position in its partition: the Kafka offset or the stream entry id (what ReportBatchItemFailures' itemIdentifier names). */
export function positionOf(r: SourceRecord): string {
  return r.source === 'kafka' ? r.offset : r.id;
}

/** When the record entered its stream, ms since the epoch (a Redis entry id begins with it). */
export function timestampOf(r: SourceRecord): number {
  return r.source === 'kafka' ? r.timestampMs : Number(r.id.split('-')[0]);
}
