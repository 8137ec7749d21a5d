import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { deleteFunctionKeys } from '../../src/controller/redis-cleanup.js';
import { redisConnectionFrom } from '../../src/queue/index.js';
import { functionKeys, namespaceKeyPrefix } from '../../src/queue/keys.js';
import { createRedisClient, type RedisClient } from '../../src/queue/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

describe('the finalizer\'s Redis cleanup', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it('deletes every key of the function and nothing of its neighbours', async () => {
    const mine = functionKeys('hello');
    const other = functionKeys('hello-world');
    await redis.xadd(mine.events, '*', 'e', '1');
    await redis.zadd(mine.delayed, 1, 'r1');
    await redis.hset(`${mine.retryPrefix}r1`, 'a', '1');
    await redis.xadd(mine.deadLetters, '*', 'e', '1');
    await redis.set(`${mine.idempotencyPrefix}tok`, '1');
    await redis.xadd(other.events, '*', 'e', '1');
    await redis.set('hearth:invocation:{req-1}', '1');

    expect(await deleteFunctionKeys(redis, 'hello')).toBe(5);
    expect(await redis.keys('hearth:{hello}:*')).toEqual([]);
    expect(await redis.exists(other.events, 'hearth:invocation:{req-1}')).toBe(2);
    expect(await deleteFunctionKeys(redis, 'hello')).toBe(0);
  });

  it('keeps a function of the same name in another namespace', async () => {
    const a = functionKeys('hello', namespaceKeyPrefix('team-a'));
    const b = functionKeys('hello', namespaceKeyPrefix('team-b'));
    await redis.xadd(a.events, '*', 'e', '1');
    await redis.xadd(b.events, '*', 'e', '1');
    expect(await deleteFunctionKeys(redis, 'hello', namespaceKeyPrefix('team-a'))).toBe(1);
    expect(await redis.exists(b.events)).toBe(1);
  });
});

describe("the finalizer's Redis cleanup against a Redis Cluster", () => {
  let server: RedisServer;
  let redis: RedisClient;

  beforeAll(async () => {
    server = await startRedis({ cluster: true });
    // As the controller connects: from the REDIS_* environment the chart gives it in redis.mode cluster.
    const opts = redisConnectionFrom(undefined, { REDIS_CLUSTER_NODES: `127.0.0.1:${server.port}` });
    if (!opts) throw new Error('no Redis from REDIS_CLUSTER_NODES');
    redis = createRedisClient(opts);
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  });

  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it('deletes every key of the function, found node by node, and nothing of its neighbours', async () => {
    const prefix = namespaceKeyPrefix('team-a');
    const mine = functionKeys('hello', prefix);
    const other = functionKeys('hello-world', prefix);
    await redis.xadd(mine.events, '*', 'e', '1');
    await redis.zadd(mine.delayed, 1, 'r1');
    await redis.hset(`${mine.retryPrefix}r1`, 'a', '1');
    await redis.set(`${mine.idempotencyPrefix}tok`, '1');
    await redis.xadd(other.events, '*', 'e', '1');

    expect(await deleteFunctionKeys(redis, 'hello', prefix)).toBe(4);
    expect(await redis.exists(mine.events, mine.delayed, `${mine.retryPrefix}r1`, `${mine.idempotencyPrefix}tok`)).toBe(0);
    expect(await redis.exists(other.events)).toBe(1);
    expect(await deleteFunctionKeys(redis, 'hello', prefix)).toBe(0);
  });
});
