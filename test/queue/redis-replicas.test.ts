// An enqueue answered only once a replica holds it, where the master has
// one; no WAIT where it has none. And after a connection to Redis closed, a
// consumer's own entries it no longer runs are taken back at once instead
// of after the visibility timeout. Real redis-servers: a master with a
// replica, and a single Redis.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionKeys } from '../../src/queue/keys.js';
import { QueueUnavailableError } from '../../src/queue/queue.js';
import { RedisStore } from '../../src/queue/redis.js';
import type { StoredEvent } from '../../src/queue/store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { sleep, waitFor } from './support.js';

let master: RedisServer;
let replica: RedisServer;
let single: RedisServer;
const admin = new Map<number, Redis>();

function adminOf(port: number): Redis {
  let c = admin.get(port);
  if (!c) {
    c = new Redis({ host: '127.0.0.1', port });
    c.on('error', () => undefined);
    admin.set(port, c);
  }
  return c;
}

async function pidOf(port: number): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await adminOf(port).info('server'))?.[1]);
}

async function waitCalls(port: number): Promise<number> {
  return Number(/cmdstat_wait:calls=(\d+)/.exec(await adminOf(port).info('commandstats'))?.[1] ?? 0);
}

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  single = await startRedis();
  await waitFor('the replica in sync', async () => /state=online/.test(await adminOf(master.port).info('replication')), 20_000, 50);
});

afterAll(async () => {
  for (const c of admin.values()) c.disconnect();
  await replica?.stop();
  await master?.stop();
  await single?.stop();
});

const prefix = () => `r${randomBytes(3).toString('hex')}`;
const event = (functionName: string, n = 0): StoredEvent => ({
  requestId: `req-${randomBytes(6).toString('hex')}`,
  functionName,
  payload: Buffer.from(JSON.stringify({ n })),
  enqueuedAt: Date.now(),
  attempts: 0,
  functionErrors: 0,
  systemErrors: 0,
});

describe('enqueues and replicas', () => {
  it('sends no WAIT to a Redis without replicas', async () => {
    const store = new RedisStore({ url: single.url, keyPrefix: prefix() });
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.append(event('fn', i))));
      expect(store.replicaAcks?.waits).toBe(0);
      expect(await waitCalls(single.port)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('answers an enqueue once the replica holds it, one WAIT for enqueues that complete together', async () => {
    const keyPrefix = prefix();
    const store = new RedisStore({ url: master.url, keyPrefix });
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.append(event('fn', i))));
      const waits = store.replicaAcks?.waits ?? 0;
      console.log(`200 concurrent enqueues: ${waits} WAITs`);
      expect(waits).toBeGreaterThan(0);
      expect(waits).toBeLessThan(100);
      expect(await adminOf(replica.port).xlen(functionKeys('fn', keyPrefix).events)).toBe(200);
    } finally {
      await store.close();
    }
  });

  it('refuses an enqueue no replica confirms (retryable), the retry with its idempotency key too, until the replica is back', async () => {
    const keyPrefix = prefix();
    const store = new RedisStore({ url: master.url, keyPrefix, replicaAckTimeoutMs: 300 });
    const pid = await pidOf(replica.port);
    try {
      await store.append(event('fn'));
      process.kill(pid, 'SIGSTOP');
      try {
        const first = event('fn');
        const refused = await store.append(first, { token: 'key-1', windowMs: 60_000 }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(QueueUnavailableError);
        expect((refused as QueueUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
        // The caller's retry finds its key taken, yet the first write is on the master alone: refused as well, not answered as a duplicate.
        expect(await store.append(event('fn'), { token: 'key-1', windowMs: 60_000 }).catch((e: unknown) => e)).toBeInstanceOf(QueueUnavailableError);
        process.kill(pid, 'SIGCONT');
        const retried = await waitFor('the retry accepted once the replica is back', () => store.append(event('fn'), { token: 'key-1', windowMs: 60_000 }).catch(() => undefined), 10_000, 100);
        expect(retried).toEqual({ requestId: first.requestId, duplicate: true });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    } finally {
      await store.close();
    }
  });

  it('keeps refusing on a connection whose master lost its replica, and a new connection to a master without one does not wait', async () => {
    const keyPrefix = prefix();
    const store = new RedisStore({ url: master.url, keyPrefix, replicaAckTimeoutMs: 300 });
    try {
      await store.append(event('fn'));
      // The replica detaches, as a replica Sentinel promotes does: the master is left alone with writes nobody else holds.
      await adminOf(replica.port).call('REPLICAOF', 'NO', 'ONE');
      await waitFor('the master without its replica', async () => !/state=online/.test(await adminOf(master.port).info('replication')), 10_000, 50);
      expect(await store.append(event('fn')).catch((e: unknown) => e)).toBeInstanceOf(QueueUnavailableError);
      const fresh = new RedisStore({ url: master.url, keyPrefix, replicaAckTimeoutMs: 300 });
      try {
        const before = await waitCalls(master.port);
        await fresh.append(event('fn'));
        expect(await waitCalls(master.port)).toBe(before);
      } finally {
        await fresh.close();
      }
    } finally {
      await adminOf(replica.port).call('REPLICAOF', '127.0.0.1', String(master.port));
      await waitFor('the replica in sync again', async () => /state=online/.test(await adminOf(master.port).info('replication')), 20_000, 50);
      await store.close();
    }
  });
});

describe('entries orphaned by a lost connection', () => {
  it('are taken back by their consumer right after the connection comes back, not after the visibility timeout', { timeout: 30_000 }, async () => {
    const keyPrefix = prefix();
    const store = new RedisStore({ url: single.url, keyPrefix });
    try {
      await store.prepare('fn');
      for (let i = 0; i < 3; i++) await store.append(event('fn', i));
      const read = await store.read('fn', 'c1', 10, 0);
      expect(read).toHaveLength(3);
      await sleep(2100);
      // Held by c1 and running: nothing to take back while no connection was lost.
      expect((await store.reclaim('fn', 'c1', 60_000, 10, '0-0')).deliveries).toEqual([]);
      // The connection drops (a failover, a network cut): replies and acknowledgements on it may be lost.
      const ids = await adminOf(single.port).call('CLIENT', 'LIST');
      for (const line of String(ids).split('\n')) {
        const id = /id=(\d+)/.exec(line)?.[1];
        if (id && !line.includes('cmd=client')) await adminOf(single.port).call('CLIENT', 'KILL', 'ID', id).catch(() => undefined);
      }
      const back = await waitFor('c1 taking its entries back', async () => {
        const r = await store.reclaim('fn', 'c1', 60_000, 10, '0-0').catch(() => undefined);
        return r && r.deliveries.length > 0 ? r.deliveries : undefined;
      }, 10_000, 100);
      expect(back.map((d) => d.id).sort()).toEqual(read.map((d) => d.id).sort());
      expect(back.every((d) => d.event !== undefined)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
