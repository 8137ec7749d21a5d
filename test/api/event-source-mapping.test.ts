// The EventSourceMapping schema: Lambda's defaults, and clear errors for what Lambda refuses.
import { describe, expect, it } from 'vitest';
import { EventSourceMappingSpecSchema, defaultConsumerGroup } from '../../src/api/event-source-mapping.js';

const kafka = { bootstrapServers: ['127.0.0.1:9092'], topics: ['orders'] };

describe('EventSourceMapping spec', () => {
  it("takes Lambda's defaults", () => {
    expect(EventSourceMappingSpecSchema.parse({ functionName: 'f', kafka })).toEqual({
      functionName: 'f',
      kafka,
      enabled: true,
      batchSize: 100,
      maximumBatchingWindowInSeconds: 0,
      startingPosition: 'LATEST',
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
    });
  });

  it.each([
    ['no source', { functionName: 'f' }, 'exactly one of kafka and redisStreams'],
    ['two sources', { functionName: 'f', kafka, redisStreams: { streams: ['s'] } }, 'exactly one of kafka and redisStreams'],
    ['AT_TIMESTAMP without a timestamp', { functionName: 'f', kafka, startingPosition: 'AT_TIMESTAMP' }, 'startingPositionTimestamp is required'],
    ['a timestamp without AT_TIMESTAMP', { functionName: 'f', kafka, startingPositionTimestamp: '2026-01-01T00:00:00Z' }, 'startingPositionTimestamp is required'],
    ['a record age under 60 s', { functionName: 'f', kafka, maximumRecordAgeInSeconds: 30 }, 'must be -1 or at least 60'],
    ['a broker without a port', { functionName: 'f', kafka: { ...kafka, bootstrapServers: ['broker'] } }, 'must be HOST:PORT'],
    ['two topics', { functionName: 'f', kafka: { ...kafka, topics: ['a', 'b'] } }, 'Too big'],
    ['a batch over 10,000', { functionName: 'f', kafka, batchSize: 10_001 }, 'Too big'],
    ['maximumConcurrency 1', { functionName: 'f', kafka, scalingConfig: { maximumConcurrency: 1 } }, 'Too small'],
    ['a non-Redis URL', { functionName: 'f', redisStreams: { url: 'http://x', streams: ['s'] } }, 'redis:// or rediss://'],
  ])('refuses %s with a clear message', (_what, spec, message) => {
    const r = EventSourceMappingSpecSchema.safeParse(spec);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message).join('; ')).toContain(message);
  });

  it('names its default consumer group after the namespace and the mapping', () => {
    expect(defaultConsumerGroup({ metadata: { name: 'orders', namespace: 'shop' } })).toBe('hearth-shop-orders');
    expect(defaultConsumerGroup({ metadata: { name: 'orders' } })).toBe('hearth-default-orders');
  });
});
