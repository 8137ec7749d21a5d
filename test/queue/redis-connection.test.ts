// Connection options and housekeeping of the Redis store.
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, redisConnectionFrom, redisOptionsFromEnv } from '../../src/queue/index.js';
import { QueueUnavailableError } from '../../src/queue/queue.js';
import { CONSUMER_GROUP, functionKeys } from '../../src/queue/keys.js';
import { createRedisClient, RedisStore } from '../../src/queue/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { sleep } from './support.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis({ password: 's3cret' });
});
afterAll(async () => {
  await server?.stop();
});

describe('Redis connection', () => {
  it('authenticates with the password in the URL or given apart', async () => {
    const viaUrl = createQueue({ redisUrl: server.url });
    const apart = createQueue({ redisUrl: `redis://127.0.0.1:${server.port}`, redis: { password: 's3cret' } });
    try {
      expect(viaUrl.kind).toBe('redis');
      expect((await viaUrl.enqueue({ functionName: 'auth', payload: Buffer.from('{}') })).duplicate).toBe(false);
      expect((await apart.enqueue({ functionName: 'auth', payload: Buffer.from('{}') })).duplicate).toBe(false);
      expect((await apart.backlog('auth')).lag).toBe(2);
    } finally {
      await viaUrl.close();
      await apart.close();
    }
  });

  it('reports a wrong password as unavailable, not as accepted', async () => {
    const q = createQueue({ redisUrl: `redis://:wrong@127.0.0.1:${server.port}` });
    try {
      await expect(q.enqueue({ functionName: 'auth', payload: Buffer.from('{}') })).rejects.toBeInstanceOf(QueueUnavailableError);
    } finally {
      await q.close();
    }
  });

  it('uses the memory queue without a Redis URL', () => {
    expect(createQueue({}).kind).toBe('memory');
    expect(createQueue({ redisUrl: '' }).kind).toBe('memory');
  });

  it('reads its options from the environment', () => {
    expect(
      redisOptionsFromEnv({ REDIS_URL: 'rediss://r:6380', REDIS_PASSWORD: 'p', REDIS_TLS: 'true', REDIS_SENTINELS: 'a:26379, b', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'c1:7000' }),
    ).toEqual({
      url: 'rediss://r:6380',
      password: 'p',
      tls: true,
      sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 6379 }],
      sentinelName: 'm',
      cluster: [{ host: 'c1', port: 7000 }],
    });
    expect(redisOptionsFromEnv({})).toEqual({});
  });

  it.each([
    ['nothing', undefined, {}, undefined],
    ['REDIS_URL', undefined, { REDIS_URL: 'redis://r:6379' }, { url: 'redis://r:6379' }],
    ['a flag over REDIS_URL, keeping the password and TLS', 'redis://flag:6379', { REDIS_URL: 'redis://env:6379', REDIS_PASSWORD: 'p', REDIS_TLS: 'true' }, { url: 'redis://flag:6379', password: 'p', tls: true }],
    ['Sentinel', undefined, { REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' }, { sentinels: [{ host: 's', port: 26379 }], sentinelName: 'm' }],
    ['Cluster with TLS', undefined, { REDIS_CLUSTER_NODES: 'c:7000', REDIS_TLS: '1' }, { cluster: [{ host: 'c', port: 7000 }], tls: true }],
    ['a password alone', undefined, { REDIS_PASSWORD: 'p' }, undefined],
  ])('connects the gateway and the controller alike: %s', (_what, flag, env, want) => {
    expect(redisConnectionFrom(flag, env)).toEqual(want);
  });

  it('gives REDIS_TLS and the password to the client in every mode', () => {
    // By construction: no TLS server here. Each client is closed before it gets anywhere.
    const env = { REDIS_TLS: 'true', REDIS_PASSWORD: 'p' };
    const client = (more: Record<string, string>) => {
      const c = createRedisClient(redisConnectionFrom(undefined, { ...env, ...more }) ?? {});
      c.on('error', () => undefined);
      c.disconnect();
      return c;
    };
    const single = client({ REDIS_URL: 'redis://127.0.0.1:1' });
    const sentinel = client({ REDIS_SENTINELS: '127.0.0.1:1' });
    const cluster = client({ REDIS_CLUSTER_NODES: '127.0.0.1:1' });
    if (!(single instanceof Redis) || !(sentinel instanceof Redis) || !(cluster instanceof Cluster)) throw new Error('unexpected client kinds');
    expect(single.options).toMatchObject({ tls: {}, password: 'p' });
    expect(sentinel.options).toMatchObject({ tls: {}, password: 'p', enableTLSForSentinelMode: true, sentinels: [{ host: '127.0.0.1', port: 1 }] });
    expect(cluster.options.redisOptions).toMatchObject({ tls: {}, password: 'p' });
  });

  it('forgets idle consumers that hold nothing, and keeps those that hold entries', async () => {
    const store = new RedisStore({ url: server.url, keyPrefix: 'prune' });
    try {
      await store.prepare('p');
      const ev = (id: string) => ({ requestId: id, functionName: 'p', payload: Buffer.from('{}'), enqueuedAt: Date.now(), attempts: 0, functionErrors: 0, systemErrors: 0 });
      await store.append(ev('a'));
      await store.read('p', 'holder', 1, 0);
      // A consumer that once read and now holds nothing, as a finished replica leaves behind.
      await store.client.xgroup('CREATECONSUMER', functionKeys('p', 'prune').events, CONSUMER_GROUP, 'empty');
      await sleep(30);
      expect(await store.pruneConsumers('p', 10)).toBe(1);
      expect((await store.backlog('p', Date.now())).pending).toBe(1);
      await store.releaseConsumer('holder');
    } finally {
      await store.close();
    }
  });
});
