// The event a function gets for a batch of Kafka records: Lambda's
// self-managed Apache Kafka event, field for field, so handlers written for
// Lambda (and AWS's event types in every runtime library) read it unchanged.
import { partitionOf, type KafkaRecord } from './records.js';

/** Lambda's self-managed Kafka event: records grouped by TOPIC-PARTITION. */
export interface SelfManagedKafkaEvent {
  eventSource: 'SelfManagedKafka';
  /** The mapping's bootstrap servers, comma-separated. */
  bootstrapServers: string;
  records: Record<string, KafkaEventRecord[]>;
}

export interface KafkaEventRecord {
  topic: string;
  partition: number;
  /** A JSON number, as Lambda sends it (exact up to 2^53; Kafka offsets do not get near it). */
  offset: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** Base64 of the key; absent when the key is null. */
  key?: string;
  /** Base64 of the value; absent when the value is null (a tombstone). */
  value?: string;
  /** One object per header, in order, each `{ name: [byte, …] }` (a header name may repeat). */
  headers: Array<Record<string, number[]>>;
}

export function kafkaEventRecord(r: KafkaRecord): KafkaEventRecord {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    timestamp: r.timestampMs,
    timestampType: r.timestampType,
    ...(r.key !== null ? { key: r.key.toString('base64') } : {}),
    ...(r.value !== null ? { value: r.value.toString('base64') } : {}),
    // fromEntries: a header named __proto__ is an own property like any other.
    headers: r.headers.map((h) => Object.fromEntries([[h.key, [...h.value]]]) as Record<string, number[]>),
  };
}

/** The event for `records` (in order; a batch is one partition's, but any mix groups correctly). */
export function kafkaEvent(records: readonly KafkaRecord[], bootstrapServers: readonly string[]): SelfManagedKafkaEvent {
  const byPartition = new Map<string, KafkaEventRecord[]>();
  for (const r of records) {
    const key = partitionOf(r);
    let list = byPartition.get(key);
    if (!list) byPartition.set(key, (list = []));
    list.push(kafkaEventRecord(r));
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: bootstrapServers.join(','), records: Object.fromEntries(byPartition) };
}
