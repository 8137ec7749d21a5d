import { describe, expect, it } from 'vitest';
import { batchEvent, batchPayload } from '../../src/sources/batch-event.js';
import { kafkaEvent, kafkaEventRecord } from '../../src/sources/kafka-event.js';
import type { KafkaRecord } from '../../src/sources/records.js';

function rec(p: Partial<KafkaRecord> = {}): KafkaRecord {
  return { source: 'kafka', topic: 'mytopic', partition: 0, offset: '15', timestampMs: 1545084650987, timestampType: 'CREATE_TIME', key: null, value: null, headers: [], ...p };
}

describe('kafkaEvent', () => {
  it("is Lambda's documented self-managed Kafka example event", () => {
    // docs.aws.amazon.com/lambda/latest/dg/with-kafka.html, "Example event" (its key is not canonical base64, so another key here).
    const record = rec({
      key: Buffer.from('key-1'),
      value: Buffer.from('Hello, this is a test.'),
      headers: [{ key: 'headerKey', value: Buffer.from('headerValue') }],
    });
    const payload = batchPayload([record], { bootstrapServers: ['b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092', 'b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092'], eventSourceArn: 'unused' });
    expect(JSON.parse(payload.toString())).toEqual({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092',
      records: {
        'mytopic-0': [
          {
            topic: 'mytopic',
            partition: 0,
            offset: 15,
            timestamp: 1545084650987,
            timestampType: 'CREATE_TIME',
            key: 'a2V5LTE=',
            value: 'SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==',
            headers: [{ headerKey: [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101] }],
          },
        ],
      },
    });
  });

  it.each([
    { name: 'null key: no key', record: rec({ value: Buffer.from('v') }), has: { key: false, value: true } },
    { name: 'null value (a tombstone): no value', record: rec({ key: Buffer.from('k') }), has: { key: true, value: false } },
    { name: 'empty key and value: empty strings', record: rec({ key: Buffer.alloc(0), value: Buffer.alloc(0) }), has: { key: true, value: true } },
  ])('$name', ({ record, has }) => {
    const e = kafkaEventRecord(record);
    expect('key' in e).toBe(has.key);
    expect('value' in e).toBe(has.value);
    if (record.key?.length === 0) expect(e.key).toBe('');
  });

  it('keeps headers in order, repeated names and binary values, and a header named __proto__ as data', () => {
    const e = kafkaEventRecord(rec({ headers: [{ key: 'a', value: Buffer.from([0, 255]) }, { key: 'a', value: Buffer.from('x') }, { key: '__proto__', value: Buffer.from('p') }] }));
    expect(JSON.parse(JSON.stringify(e.headers))).toEqual([{ a: [0, 255] }, { a: [120] }, JSON.parse('{"__proto__":[112]}')]);
    expect(Object.keys(e.headers[2]!)).toEqual(['__proto__']);
  });

  it('groups records by TOPIC-PARTITION in order, offsets and timestamps as numbers, LOG_APPEND_TIME kept', () => {
    const ev = kafkaEvent(
      [rec({ offset: '1' }), rec({ partition: 1, offset: '7', timestampType: 'LOG_APPEND_TIME' }), rec({ offset: '2' })],
      ['127.0.0.1:9092'],
    );
    expect(Object.keys(ev.records)).toEqual(['mytopic-0', 'mytopic-1']);
    expect(ev.records['mytopic-0']!.map((r) => r.offset)).toEqual([1, 2]);
    expect(ev.records['mytopic-1']![0]).toMatchObject({ partition: 1, offset: 7, timestampType: 'LOG_APPEND_TIME' });
    expect(ev.bootstrapServers).toBe('127.0.0.1:9092');
  });

  it('an empty Kafka batch is an event with no records', () => {
    expect(batchEvent([], { bootstrapServers: ['h:1'], eventSourceArn: 'a' })).toEqual({ eventSource: 'SelfManagedKafka', bootstrapServers: 'h:1', records: {} });
  });

  it('refuses a batch that mixes sources', () => {
    expect(() => batchPayload([rec(), { source: 'redis-streams', stream: 's', id: '1-0', fields: [] }], { eventSourceArn: 'a' })).toThrow(/mixes/);
  });
});
