import { describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import type { BatchResult } from '../../src/sources/batch-plan.js';
import { failureRecord, kafkaDestinationMessages } from '../../src/sources/failure-record.js';
import type { KafkaRecord, RedisStreamRecord } from '../../src/sources/records.js';

const kafka = (p: Partial<KafkaRecord>): KafkaRecord => ({ source: 'kafka', topic: 'Topic', partition: 0, offset: '0', timestampMs: 0, timestampType: 'CREATE_TIME', key: null, value: null, headers: [], ...p });
const invoked = (outcome: InvokeResult['outcome'], executedVersion?: string): BatchResult => ({
  kind: 'invoked',
  result: { outcome, payload: Buffer.from('{"errorMessage":"x"}'), durationMs: 1, ...(executedVersion ? { executedVersion } : {}) },
});

describe('failureRecord', () => {
  it("is Lambda's documented SQS/SNS record for a failed Kafka batch", () => {
    // docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html, "SNS and SQS example invocation record".
    const records = [
      kafka({ offset: '49601189658422359378836298521827638475320189012309704722', timestampMs: Date.parse('2019-11-14T00:38:04.835Z') }),
      kafka({ offset: '49601189658422359378836298522902373528957594348623495186', timestampMs: Date.parse('2019-11-14T00:38:05.580Z') }),
    ];
    const rec = failureRecord({
      records,
      condition: 'RetryAttemptsExhausted',
      last: invoked('unhandled'),
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:myfunction',
      requestId: '316aa6d0-8154-xmpl-9af7-85d5f4a6bc81',
      approximateInvokeCount: 1,
      nowMs: Date.parse('2019-11-14T00:38:06.021Z'),
      bootstrapServers: ['b-1.example:9092', 'b-2.example:9092'],
      payloadSize: 2039086,
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2',
    });
    expect(rec).toEqual({
      requestContext: {
        requestId: '316aa6d0-8154-xmpl-9af7-85d5f4a6bc81',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:myfunction',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T00:38:06.021Z',
      KafkaBatchInfo: {
        batchSize: 2,
        eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2',
        bootstrapServers: 'b-1.example:9092,b-2.example:9092',
        payloadSize: 2039086,
        recordsInfo: {
          'Topic-0': {
            firstRecordOffset: '49601189658422359378836298521827638475320189012309704722',
            lastRecordOffset: '49601189658422359378836298522902373528957594348623495186',
            firstRecordTimestamp: '2019-11-14T00:38:04.835Z',
            lastRecordTimestamp: '2019-11-14T00:38:05.580Z',
          },
        },
      },
    });
    expect(Object.keys(rec)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'KafkaBatchInfo']);
  });

  const base = { records: [kafka({ offset: '4' })], functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', requestId: 'r', approximateInvokeCount: 2, nowMs: 0, bootstrapServers: ['h:1'], payloadSize: 10 };
  it.each([
    { name: 'payload too large: Lambda\'s MaximumPayloadSizeExceeded, no response', input: { condition: 'PayloadTooLarge' as const }, condition: 'MaximumPayloadSizeExceeded', response: null },
    { name: 'aged out after platform errors only: no response', input: { condition: 'RecordAgeExceeded' as const, last: { kind: 'platform', error: 'throttled' } as BatchResult }, condition: 'RecordAgeExceeded', response: null },
    { name: 'handled error of version 3', input: { condition: 'RetryAttemptsExhausted' as const, last: invoked('handled', '3') }, condition: 'RetryAttemptsExhausted', response: { statusCode: 200, executedVersion: '3', functionError: 'Handled' } },
    { name: 'a success with an invalid partial-batch answer: no functionError', input: { condition: 'RetryAttemptsExhausted' as const, last: invoked('success') }, condition: 'RetryAttemptsExhausted', response: { statusCode: 200, executedVersion: '$LATEST' } },
  ])('$name', ({ input, condition, response }) => {
    const rec = failureRecord({ ...base, ...input });
    expect((rec['requestContext'] as { condition: string }).condition).toBe(condition);
    expect(rec['responseContext']).toEqual(response);
  });

  it('leaves eventSourceArn out of KafkaBatchInfo when not given (a self-managed cluster has none)', () => {
    expect(failureRecord({ ...base, condition: 'RetryAttemptsExhausted' })['KafkaBatchInfo']).not.toHaveProperty('eventSourceArn');
  });

  it('carries the batch event as a JSON string when asked, as Lambda\'s S3 destination record does', () => {
    const rec = failureRecord({ ...base, condition: 'RetryAttemptsExhausted', payload: Buffer.from('{"eventSource":"SelfManagedKafka"}') });
    expect(rec['payload']).toBe('{"eventSource":"SelfManagedKafka"}');
    expect(failureRecord({ ...base, condition: 'RetryAttemptsExhausted' })).not.toHaveProperty('payload');
  });

  it('describes a Redis Streams batch in RedisStreamsBatchInfo', () => {
    const entries: RedisStreamRecord[] = [
      { source: 'redis-streams', stream: 'orders', id: '1573691884835-0', fields: [] },
      { source: 'redis-streams', stream: 'orders', id: '1573691885580-3', fields: [] },
    ];
    const rec = failureRecord({ records: entries, condition: 'RecordAgeExceeded', last: invoked('unhandled'), functionArn: 'arn:f', requestId: 'r', approximateInvokeCount: 4, nowMs: 0, payloadSize: 321, eventSourceArn: 'arn:hearth:redis-streams:::platform' });
    expect(rec).not.toHaveProperty('KafkaBatchInfo');
    expect(rec['RedisStreamsBatchInfo']).toEqual({
      batchSize: 2,
      eventSourceArn: 'arn:hearth:redis-streams:::platform',
      payloadSize: 321,
      recordsInfo: {
        orders: { firstRecordId: '1573691884835-0', lastRecordId: '1573691885580-3', firstRecordTimestamp: '2019-11-14T00:38:04.835Z', lastRecordTimestamp: '2019-11-14T00:38:05.580Z' },
      },
    });
  });
});

describe('kafkaDestinationMessages', () => {
  it("is Lambda's documented message for a Kafka-topic destination, one per record, keyed as the record was", () => {
    // docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html, "Failure metadata".
    const record = kafka({ topic: 'my-topic', offset: '100', timestampMs: 1749116692330, key: Buffer.from('test-key'), value: Buffer.from('test-value') });
    const [message, ...more] = kafkaDestinationMessages({
      records: [record],
      condition: 'RetryAttemptsExhausted',
      last: invoked('unhandled'),
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST',
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      approximateInvokeCount: 3,
      nowMs: Date.parse('2019-11-14T18:16:05.568Z'),
      bootstrapServers: ['b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098'],
    });
    expect(more).toEqual([]);
    expect(message!.key).toEqual(Buffer.from('test-key'));
    const payload = {
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098',
      records: {
        'my-topic-0': [{ headers: [], key: 'dGVzdC1rZXk=', offset: 100, partition: 0, timestamp: 1749116692330, timestampType: 'CREATE_TIME', topic: 'my-topic', value: 'dGVzdC12YWx1ZQ==' }],
      },
    };
    expect(JSON.parse(message!.value.toString())).toEqual({
      requestContext: {
        requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T18:16:05.568Z',
      KafkaBatchInfo: {
        batchSize: 1,
        bootstrapServers: 'b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098',
        payloadSize: Buffer.byteLength(JSON.stringify(payload)),
        recordInfo: { offset: '100', timestamp: '2025-06-05T09:44:52.330Z' },
      },
      payload,
    });
  });

  it('makes one message per record, a null key for a record without one', () => {
    const msgs = kafkaDestinationMessages({ records: [kafka({ offset: '1' }), kafka({ offset: '2', key: Buffer.from('k') })], condition: 'RecordAgeExceeded', functionArn: 'f', requestId: 'r', approximateInvokeCount: 0, nowMs: 0, bootstrapServers: ['h:1'] });
    expect(msgs.map((m) => m.key)).toEqual([null, Buffer.from('k')]);
    expect(msgs.map((m) => (JSON.parse(m.value.toString()) as { KafkaBatchInfo: { recordInfo: { offset: string } } }).KafkaBatchInfo.recordInfo.offset)).toEqual(['1', '2']);
    expect((JSON.parse(msgs[0]!.value.toString()) as { responseContext: unknown }).responseContext).toBeNull();
  });
});
