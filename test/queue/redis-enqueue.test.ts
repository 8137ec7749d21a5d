// The 202's one round trip to Redis: enqueues made in the same turn go as
// one script call that writes each event and its first record together.
// What the batching must not change: every byte of a payload, idempotency
// within a batch, one caller's bad input failing only that caller, a
// server that forgot the script, and enqueues taken before close.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import { QueueUnavailableError } from '../../src/queue/queue.js';
import { functionKeys } from '../../src/queue/keys.js';
import { MAX_BATCH_EVENTS, RedisStore } from '../../src/queue/redis.js';
import { decodeEvent } from '../../src/queue/store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let server: RedisServer;
let admin: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

let prefix = '';
beforeEach(() => {
  prefix = `enq${++prefixes}`;
});

/** Calls per command since the last CONFIG RESETSTAT (commands a script runs count too). */
async function calls(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const [, name, n] of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) m.set(name ?? '', Number(n));
  return m;
}

/** The events in a function's stream, decoded as a consumer would. */
async function streamed(functionName: string): Promise<Array<{ requestId: string; payload: Buffer }>> {
  const entries = (await admin.xrangeBuffer(functionKeys(functionName, prefix).events, '-', '+')) as Array<[Buffer, Buffer[]]>;
  return entries.map(([, fields]) => {
    const e = decodeEvent(functionName, fields);
    if (!e) throw new Error('an entry that does not decode');
    return { requestId: e.requestId, payload: e.payload };
  });
}

describe('Redis enqueue', () => {
  it('sends the enqueues of one turn as one script call per MAX_BATCH_EVENTS, each event with its queued record', async () => {
    const q = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
    const n = MAX_BATCH_EVENTS + 10;
    try {
      // The first call loads the script (NOSCRIPT, then EVAL); the batches after it are the steady state.
      await q.enqueue({ functionName: 'batch', payload: Buffer.from('{}') });
      await admin.config('RESETSTAT');
      const results = await Promise.all(Array.from({ length: n }, (_, i) => q.enqueue({ functionName: 'batch', payload: Buffer.from(JSON.stringify({ i })) })));
      const c = await calls();
      expect(c.get('evalsha')).toBe(2);
      expect(c.get('xadd')).toBe(n);
      expect(c.get('set')).toBe(n);
      expect(results.every((r) => !r.duplicate)).toBe(true);
      for (const r of results) expect(await q.record(r.requestId)).toMatchObject({ requestId: r.requestId, functionName: 'batch', status: 'queued', attempts: 0 });
      const events = await streamed('batch');
      expect(events.slice(1).map((e) => e.requestId)).toEqual(results.map((r) => r.requestId));
      expect(events.slice(1).map((e) => JSON.parse(e.payload.toString()) as unknown)).toEqual(results.map((_, i) => ({ i })));
    } finally {
      await q.close();
    }
  });

  it('keeps every byte of payloads that are not UTF-8, beside JSON and empty ones in the same batch', async () => {
    const q = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
    const payloads = [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), Buffer.from('{"é":"\\u0000","q":"\\"x\\""}'), Buffer.alloc(0), Buffer.from([0xc3]), Buffer.from('plain text\r\n$3\r\n')];
    try {
      const results = await Promise.all(payloads.map((payload) => q.enqueue({ functionName: 'bytes', payload })));
      const events = await streamed('bytes');
      expect(events.map((e) => e.requestId)).toEqual(results.map((r) => r.requestId));
      expect(events.map((e) => e.payload.toString('hex'))).toEqual(payloads.map((p) => p.toString('hex')));
    } finally {
      await q.close();
    }
  });

  it('answers the second of two enqueues with the same idempotency key in one batch with the first request id', async () => {
    const q = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
    try {
      const [a, b] = await Promise.all([
        q.enqueue({ functionName: 'idem', payload: Buffer.from('{}'), idempotencyKey: 'k1', requestId: 'first' }),
        q.enqueue({ functionName: 'idem', payload: Buffer.from('{}'), idempotencyKey: 'k1', requestId: 'second' }),
      ]);
      expect(a).toEqual({ requestId: 'first', duplicate: false });
      expect(b).toEqual({ requestId: 'first', duplicate: true });
      expect((await streamed('idem')).map((e) => e.requestId)).toEqual(['first']);
      expect(await q.record('second')).toBeUndefined();
    } finally {
      await q.close();
    }
  });

  it('keeps the batch\'s keys in step when an idempotency window rounds to nothing', async () => {
    const store = new RedisStore({ url: server.url, keyPrefix: prefix });
    const event = (requestId: string) => ({ requestId, functionName: 'window', payload: Buffer.from('{}'), enqueuedAt: Date.now(), attempts: 0, functionErrors: 0, systemErrors: 0 });
    const record = (requestId: string) => ({ value: { requestId, functionName: 'window', status: 'queued' as const, attempts: 0, systemErrors: 0, enqueuedAt: '', updatedAt: '' }, ttlMs: 60_000 });
    try {
      await Promise.all([store.append(event('zero'), { token: 't0', windowMs: 0 }, record('zero')), store.append(event('next'), undefined, record('next'))]);
      expect((await store.getRecord('zero'))?.requestId).toBe('zero');
      expect((await store.getRecord('next'))?.requestId).toBe('next');
      expect((await streamed('window')).map((e) => e.requestId)).toEqual(['zero', 'next']);
    } finally {
      await store.close();
    }
  });

  it('fails only the enqueue whose function name no key can be made of, not the rest of its batch', async () => {
    const q = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
    try {
      const [bad, good] = await Promise.allSettled([q.enqueue({ functionName: 'bad{name}', payload: Buffer.from('{}') }), q.enqueue({ functionName: 'good', payload: Buffer.from('{}') })]);
      expect(bad.status).toBe('rejected');
      expect(good.status).toBe('fulfilled');
      expect(await streamed('good')).toHaveLength(1);
    } finally {
      await q.close();
    }
  });

  it('loads the script again on a server that does not know it (restarted, or a promoted replica)', async () => {
    const q = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
    try {
      await q.enqueue({ functionName: 'flush', payload: Buffer.from('{}') });
      await admin.script('FLUSH');
      await q.enqueue({ functionName: 'flush', payload: Buffer.from('{}') });
      expect(await streamed('flush')).toHaveLength(2);
    } finally {
      await q.close();
    }
  });

  it('sends and answers the enqueues it took before close, and refuses those after', async () => {
    const store = new RedisStore({ url: server.url, keyPrefix: prefix });
    const event = (requestId: string) => ({ requestId, functionName: 'closing', payload: Buffer.from('{}'), enqueuedAt: Date.now(), attempts: 0, functionErrors: 0, systemErrors: 0 });
    await store.append(event('warm'));
    const taken = store.append(event('taken'));
    await store.close();
    await expect(taken).resolves.toEqual({ requestId: 'taken', duplicate: false });
    await expect(store.append(event('late'))).rejects.toBeInstanceOf(QueueUnavailableError);
    expect((await streamed('closing')).map((e) => e.requestId)).toEqual(['warm', 'taken']);
  });
});
