// Lambda's on-failure record for a stream source's batch: what a mapping's
// onFailure destination receives about records that ran out of retries, aged
// out or could not fit in an invocation, after which their partition goes on.
// Field for field Lambda's documented Kafka record (requestContext,
// responseContext, version, timestamp, KafkaBatchInfo with recordsInfo per
// TOPIC-PARTITION); Redis Streams gets RedisStreamsBatchInfo in the same
// spirit. Shapes shared with the async destination record (src/queue/records.ts)
// come from there.
import { executedVersionOf, functionErrorOf } from '../queue/records.js';
import type { BatchResult, FailureCondition } from './batch-plan.js';
import { kafkaEvent } from './kafka-event.js';
import { partitionOf, timestampOf, type KafkaRecord, type SourceRecord } from './records.js';

/** Lambda's names: a batch over the payload limit is `MaximumPayloadSizeExceeded`. */
const CONDITION: Record<FailureCondition, string> = {
  RetryAttemptsExhausted: 'RetryAttemptsExhausted',
  RecordAgeExceeded: 'RecordAgeExceeded',
  PayloadTooLarge: 'MaximumPayloadSizeExceeded',
};

export interface FailureRecordInput {
  /** The records that failed, in order, all of one partition. */
  records: readonly SourceRecord[];
  condition: FailureCondition;
  /** How their last invocation ended; without one that ran the function, responseContext is null (as Lambda's is for MaximumPayloadSizeExceeded). */
  last?: BatchResult;
  /** As the record names it: Lambda's SQS/SNS example has the unqualified ARN, its Kafka-topic example one qualified with what ran ($LATEST). */
  functionArn: string;
  requestId: string;
  approximateInvokeCount: number;
  nowMs: number;
  /** Kafka: the mapping's bootstrap servers. */
  bootstrapServers?: readonly string[];
  /** Size in bytes of the batch's event. */
  payloadSize: number;
  /** The event source's ARN: required for Redis Streams (its event's eventSourceArn); for Kafka, written when given (a self-managed cluster has none in Lambda). */
  eventSourceArn?: string;
  /** The batch's event as invoked: when given, the record carries it as `payload`, a JSON string, as Lambda's S3 destination record does. */
  payload?: Buffer;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function contexts(input: Pick<FailureRecordInput, 'condition' | 'last' | 'functionArn' | 'requestId' | 'approximateInvokeCount' | 'nowMs'>): Record<string, unknown> {
  const last = input.last?.kind === 'invoked' ? input.last.result : undefined;
  const functionError = last ? functionErrorOf(last.outcome) : undefined;
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: CONDITION[input.condition],
      approximateInvokeCount: input.approximateInvokeCount,
    },
    // Lambda reports 200 for a run whose function failed: the invoke itself succeeded.
    responseContext: last ? { statusCode: 200, executedVersion: executedVersionOf(last), ...(functionError ? { functionError } : {}) } : null,
    version: '1.0',
    timestamp: iso(input.nowMs),
  };
}

/** First and last record of each partition, in the order met. */
function rangesByPartition(records: readonly SourceRecord[]): Map<string, { first: SourceRecord; last: SourceRecord }> {
  const ranges = new Map<string, { first: SourceRecord; last: SourceRecord }>();
  for (const r of records) {
    const key = partitionOf(r);
    const range = ranges.get(key);
    if (range) range.last = r;
    else ranges.set(key, { first: r, last: r });
  }
  return ranges;
}

/**
 * The record for the batch, as Lambda sends it to an SQS queue or SNS topic
 * (and, with `payload`, to an S3 bucket):
 *
 * Kafka: `KafkaBatchInfo: { batchSize, [eventSourceArn], bootstrapServers, payloadSize,
 *   recordsInfo: { "TOPIC-N": { firstRecordOffset, lastRecordOffset, firstRecordTimestamp, lastRecordTimestamp } } }`
 *   (offsets as strings, timestamps ISO 8601).
 * Redis Streams: `RedisStreamsBatchInfo: { batchSize, eventSourceArn, payloadSize,
 *   recordsInfo: { STREAM: { firstRecordId, lastRecordId, firstRecordTimestamp, lastRecordTimestamp } } }`.
 */
export function failureRecord(input: FailureRecordInput): Record<string, unknown> {
  const ranges = [...rangesByPartition(input.records)];
  const record = contexts(input);
  const kafka = input.records[0]?.source === 'kafka' || (input.records.length === 0 && input.bootstrapServers !== undefined);
  if (kafka) {
    record['KafkaBatchInfo'] = {
      batchSize: input.records.length,
      ...(input.eventSourceArn !== undefined ? { eventSourceArn: input.eventSourceArn } : {}),
      bootstrapServers: (input.bootstrapServers ?? []).join(','),
      payloadSize: input.payloadSize,
      recordsInfo: Object.fromEntries(
        ranges.map(([key, { first, last }]) => [
          key,
          {
            firstRecordOffset: (first as KafkaRecord).offset,
            lastRecordOffset: (last as KafkaRecord).offset,
            firstRecordTimestamp: iso(timestampOf(first)),
            lastRecordTimestamp: iso(timestampOf(last)),
          },
        ]),
      ),
    };
  } else {
    record['RedisStreamsBatchInfo'] = {
      batchSize: input.records.length,
      eventSourceArn: input.eventSourceArn ?? '',
      payloadSize: input.payloadSize,
      recordsInfo: Object.fromEntries(
        ranges.map(([key, { first, last }]) => [
          key,
          {
            firstRecordId: first.source === 'redis-streams' ? first.id : '',
            lastRecordId: last.source === 'redis-streams' ? last.id : '',
            firstRecordTimestamp: iso(timestampOf(first)),
            lastRecordTimestamp: iso(timestampOf(last)),
          },
        ]),
      ),
    };
  }
  if (input.payload !== undefined) record['payload'] = input.payload.toString('utf8');
  return record;
}

/** One message for a Kafka-topic destination: produced with the original record's key (Lambda keeps the partitioning), or none. */
export interface KafkaDestinationMessage {
  key: Buffer | null;
  value: Buffer;
}

/**
 * What Lambda produces to a Kafka-topic on-failure destination (kafka://TOPIC):
 * one message per failed record, with the record's own key, holding the
 * failure metadata for that record (`KafkaBatchInfo` with batchSize 1 and
 * `recordInfo: { offset, timestamp }`) and the record itself as `payload`, the
 * event Lambda would invoke with for it alone.
 */
export function kafkaDestinationMessages(input: Omit<FailureRecordInput, 'records' | 'payloadSize' | 'payload'> & { records: readonly KafkaRecord[] }): KafkaDestinationMessage[] {
  return input.records.map((r) => {
    const payload = kafkaEvent([r], input.bootstrapServers ?? []);
    const message = {
      ...contexts(input),
      KafkaBatchInfo: {
        batchSize: 1,
        ...(input.eventSourceArn !== undefined ? { eventSourceArn: input.eventSourceArn } : {}),
        bootstrapServers: (input.bootstrapServers ?? []).join(','),
        payloadSize: Buffer.byteLength(JSON.stringify(payload)),
        recordInfo: { offset: r.offset, timestamp: iso(r.timestampMs) },
      },
      payload,
    };
    return { key: r.key, value: Buffer.from(JSON.stringify(message)) };
  });
}
