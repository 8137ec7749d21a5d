// The payload of one batch's invocation, whichever source it came from: what
// the partition processor sends the function (and measures against the
// invoke payload limit, and records as payloadSize in a failure record).
import { kafkaEvent } from './kafka-event.js';
import type { KafkaRecord, RedisStreamRecord, SourceRecord } from './records.js';
import { redisStreamsEvent } from './redis-streams-event.js';

export interface BatchContext {
  /** Kafka: the mapping's bootstrap servers (the event's `bootstrapServers`). */
  bootstrapServers?: readonly string[];
  /** Redis Streams: the event's `eventSourceArn`. */
  eventSourceArn: string;
}

/** The batch's event as an object. All records come from one source (a mapping has one). */
export function batchEvent(records: readonly SourceRecord[], ctx: BatchContext): object {
  const kafka = records.filter((r): r is KafkaRecord => r.source === 'kafka');
  if (kafka.length === records.length && (kafka.length > 0 || ctx.bootstrapServers !== undefined)) return kafkaEvent(kafka, ctx.bootstrapServers ?? []);
  if (kafka.length > 0) throw new Error('batch-event: a batch mixes Kafka records and Redis Streams entries');
  return redisStreamsEvent(records as readonly RedisStreamRecord[], ctx.eventSourceArn);
}

export function batchPayload(records: readonly SourceRecord[], ctx: BatchContext): Buffer {
  return Buffer.from(JSON.stringify(batchEvent(records, ctx)));
}
