// Demand across gateway replicas, through a real redis-server: every replica
// sees the sum, and a replica that stops reporting stops counting.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import { SharedDemand, sumFresh } from '../../src/autoscaler/shared-demand.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

describe('shared demand', () => {
  it('sums only fresh entries', () => {
    expect(sumFresh({ a: '3:1000', b: '4:2500', c: '9:100', d: 'junk' }, 3000, 2000)).toBe(7);
  });

  describe('through Redis', () => {
    let server: RedisServer;
    let redis: Redis;
    const catalog = new MemoryCatalog();
    beforeAll(async () => {
      server = await startRedis();
      redis = new Redis(server.url);
      catalog.set(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'fn' }, spec: { runtime: 'go', code: { image: 'x' } } }));
    });
    afterAll(async () => {
      await redis?.quit();
      await server?.stop();
    });

    it('gives every replica the sum, and forgets a replica that stopped', async () => {
      let now = 10_000;
      const replica = (identity: string, local: number) =>
        new SharedDemand({ redis, prefix: 'test', identity, catalog, local: () => local, staleMs: 3000, now: () => now });
      const a = replica('a', 3);
      const b = replica('b', 4);
      expect(a.total('fn')).toBe(3); // before any exchange: its own
      await a.exchange();
      await b.exchange();
      await a.exchange();
      expect(a.total('fn')).toBe(7);
      expect(b.total('fn')).toBe(7);
      // b stops reporting; once its entry is stale, a sees only itself.
      now += 5000;
      await a.exchange();
      expect(a.total('fn')).toBe(3);
    });
  });
});
