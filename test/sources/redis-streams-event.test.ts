import { describe, expect, it } from 'vitest';
import { batchEvent, batchPayload } from '../../src/sources/batch-event.js';
import type { RedisStreamRecord } from '../../src/sources/records.js';
import { redisStreamsEvent, redisStreamsEventSourceArn } from '../../src/sources/redis-streams-event.js';

const entry = (stream: string, id: string, fields: Array<[string, string]>): RedisStreamRecord => ({ source: 'redis-streams', stream, id, fields });
const ARN = 'arn:hearth:redis-streams:::redis.example:6379/0';

describe('redisStreamsEvent', () => {
  it('is the documented shape', () => {
    const payload = batchPayload([entry('orders', '1733500000000-0', [['kind', 'paid'], ['amount', '12']])], { eventSourceArn: ARN });
    expect(JSON.parse(payload.toString())).toEqual({
      eventSource: 'hearth:redis-streams',
      eventSourceArn: ARN,
      records: {
        orders: [{ stream: 'orders', id: '1733500000000-0', timestamp: 1733500000000, fields: { kind: 'paid', amount: '12' }, fieldList: [['kind', 'paid'], ['amount', '12']] }],
      },
    });
  });

  it.each([
    { name: 'a repeated field: its last value in fields, every pair in fieldList', fields: [['a', '1'], ['b', '2'], ['a', '3']] as Array<[string, string]>, want: { a: '3', b: '2' } },
    { name: 'no fields', fields: [] as Array<[string, string]>, want: {} },
    { name: 'a field named __proto__ is data', fields: [['__proto__', 'x']] as Array<[string, string]>, want: JSON.parse('{"__proto__":"x"}') as Record<string, string> },
    { name: 'empty and unicode values', fields: [['', ''], ['ключ', 'значение ✓']] as Array<[string, string]>, want: { '': '', ключ: 'значение ✓' } },
  ])('$name', ({ fields, want }) => {
    const ev = JSON.parse(batchPayload([entry('s', '5-1', fields)], { eventSourceArn: ARN }).toString()) as { records: Record<string, Array<{ fields: unknown; fieldList: unknown }>> };
    expect(ev.records['s']![0]!.fields).toEqual(want);
    expect(ev.records['s']![0]!.fieldList).toEqual(fields);
  });

  it('groups entries by stream, in order, with the time from the id', () => {
    const ev = redisStreamsEvent([entry('a', '10-0', []), entry('b', '11-0', []), entry('a', '10-1', [])], ARN);
    expect(Object.keys(ev.records)).toEqual(['a', 'b']);
    expect(ev.records['a']!.map((r) => [r.id, r.timestamp])).toEqual([
      ['10-0', 10],
      ['10-1', 10],
    ]);
  });

  it('an empty batch without Kafka context is a Redis Streams event', () => {
    expect(batchEvent([], { eventSourceArn: ARN })).toEqual({ eventSource: 'hearth:redis-streams', eventSourceArn: ARN, records: {} });
  });
});

describe('redisStreamsEventSourceArn', () => {
  it.each([
    { url: undefined, want: 'arn:hearth:redis-streams:::platform' },
    { url: 'redis://redis.example', want: 'arn:hearth:redis-streams:::redis.example:6379/0' },
    { url: 'rediss://user:secret@10.0.0.5:6380/3', want: 'arn:hearth:redis-streams:::10.0.0.5:6380/3' },
    { url: 'redis://:pw@[::1]:7000', want: 'arn:hearth:redis-streams:::[::1]:7000/0' },
  ])('$url', ({ url, want }) => {
    expect(redisStreamsEventSourceArn(url)).toBe(want);
    expect(redisStreamsEventSourceArn(url)).not.toMatch(/secret|pw|user/);
  });
});
