import { describe, expect, it } from 'vitest';
import { OnFailureSchema } from '../../src/api/event-source-mapping.js';
import { parseOnFailure, type OnFailureTarget } from '../../src/sources/on-failure-destination.js';

describe('parseOnFailure', () => {
  it.each<{ destination: string; target: OnFailureTarget }>([
    { destination: 'dead-letters', target: { kind: 'function', functionName: 'dead-letters' } },
    { destination: 'dead-letters:live', target: { kind: 'function', functionName: 'dead-letters', qualifier: 'live' } },
    { destination: 'dead-letters:3', target: { kind: 'function', functionName: 'dead-letters', qualifier: '3' } },
    { destination: 'dead-letters:$LATEST', target: { kind: 'function', functionName: 'dead-letters', qualifier: '$LATEST' } },
    { destination: 'arn:aws:lambda:us-east-1:000000000000:function:dead-letters', target: { kind: 'function', functionName: 'dead-letters' } },
    { destination: 'arn:aws:lambda:eu-west-1:123456789012:function:dead-letters:prod', target: { kind: 'function', functionName: 'dead-letters', qualifier: 'prod' } },
    { destination: 'kafka://failed-records-topic', target: { kind: 'kafka-topic', topic: 'failed-records-topic' } },
    { destination: 'kafka://a.b_c-1', target: { kind: 'kafka-topic', topic: 'a.b_c-1' } },
    { destination: 'redis-stream://hearth:failed', target: { kind: 'redis-stream', key: 'hearth:failed' } },
    { destination: 'https://hooks.example/failed?x=1', target: { kind: 'url', url: 'https://hooks.example/failed?x=1' } },
    { destination: 'http://127.0.0.1:8080', target: { kind: 'url', url: 'http://127.0.0.1:8080/' } },
    { destination: '  kafka://dlq  ', target: { kind: 'kafka-topic', topic: 'dlq' } },
  ])('$destination', ({ destination, target }) => {
    expect(parseOnFailure(destination)).toEqual({ ok: true, target });
  });

  it.each([
    { destination: '', why: /empty/ },
    { destination: 'kafka://', why: /not a Kafka topic name/ },
    { destination: 'kafka://.hidden', why: /not starting with a dot/ },
    { destination: 'kafka://has space', why: /not a Kafka topic name/ },
    { destination: 'redis-stream://', why: /1 to 512/ },
    { destination: 'http://', why: /not a valid URL/ },
    { destination: 'arn:aws:sqs:us-east-1:123456789012:dest-queue', why: /no SQS destinations/ },
    { destination: 'arn:aws:s3:::dest-bucket', why: /no S3 destinations/ },
    { destination: 'arn:aws:lambda:us-east-1:123456789012:function:Bad_Name', why: /not a Function name/ },
    { destination: 'sqs://queue', why: /sqs:\/\/ scheme is not supported/ },
    { destination: 'Upper', why: /not a Function name/ },
    { destination: 'f:bad qualifier', why: /not a qualifier/ },
    { destination: 'a:b:c', why: /NAME or NAME:QUALIFIER/ },
  ])('refuses $destination', ({ destination, why }) => {
    const r = parseOnFailure(destination);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(why);
      expect(r.message).toContain('kafka://TOPIC, redis-stream://KEY or an http(s):// URL');
    }
  });

  it('parses every destination the schema describes', () => {
    for (const destination of ['fn', 'kafka://t', 'redis-stream://k', 'https://h/']) {
      expect(OnFailureSchema.parse({ destination }).destination).toBe(destination);
      expect(parseOnFailure(destination).ok).toBe(true);
    }
  });
});
